"""outbox sweep count

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 01:40:36.586496

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate may render sqlmodel column types)
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.add_column("outbox", sa.Column("sweeps", sa.Integer(), server_default=sa.text("0"), nullable=False))


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_column("outbox", "sweeps")
