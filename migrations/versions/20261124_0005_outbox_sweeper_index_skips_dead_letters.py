"""outbox sweeper index skips dead letters

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 02:04:35.279838

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate may render sqlmodel column types)
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    # The predicate's 30 is shared.models.jobs.MAX_SWEEPS: a change there needs a new index.
    op.create_index(
        "ix_outbox_sweepable_created_at",
        "outbox",
        ["created_at"],
        unique=False,
        postgresql_where=sa.text("processed_at IS NULL AND sweeps < 30"),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(
        "ix_outbox_sweepable_created_at",
        table_name="outbox",
        postgresql_where=sa.text("processed_at IS NULL AND sweeps < 30"),
    )
