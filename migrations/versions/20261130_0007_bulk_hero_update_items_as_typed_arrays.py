"""bulk hero update items as typed arrays

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 06:56:21.744635

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate may render sqlmodel column types)
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "hero_update_items",
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("ids", sa.ARRAY(sa.Integer()), nullable=False),
        sa.Column("names", sa.ARRAY(sa.Text()), nullable=True),
        sa.Column("secret_identities", sa.ARRAY(sa.Text()), nullable=True),
        sa.Column("ages", sa.ARRAY(sa.Integer()), nullable=True),
        sa.Column("power_levels", sa.ARRAY(sa.Float()), nullable=True),
        sa.Column("team_ids", sa.ARRAY(sa.Integer()), nullable=True),
        sa.Column("team_id_given", sa.ARRAY(sa.Boolean()), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"], ["job.id"], name=op.f("fk_hero_update_items_job_id_job"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_hero_update_items")),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("hero_update_items")
