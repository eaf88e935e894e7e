"""retention: the indexes retention's batches walk (processed outbox rows, idempotency keys by age)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 13:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Both tables were kept for ever until now: on a live database they may hold hundreds of millions of
# rows, and a plain CREATE INDEX would block every transfer's INSERT INTO outbox while it builds.
# CONCURRENTLY builds without blocking writes; it cannot run inside a transaction, hence the
# autocommit block. (A build that fails leaves an INVALID index: drop it and run the migration again.)


def upgrade() -> None:
    """Upgrade schema."""
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_outbox_processed_at",
            "outbox",
            ["processed_at"],
            unique=False,
            postgresql_where=sa.text("processed_at IS NOT NULL"),
            postgresql_concurrently=True,
        )
        op.create_index(
            "ix_idempotency_key_created_at",
            "idempotency_key",
            ["created_at"],
            unique=False,
            postgresql_concurrently=True,
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.get_context().autocommit_block():
        op.drop_index("ix_idempotency_key_created_at", table_name="idempotency_key", postgresql_concurrently=True)
        op.drop_index(
            "ix_outbox_processed_at",
            table_name="outbox",
            postgresql_where=sa.text("processed_at IS NOT NULL"),
            postgresql_concurrently=True,
        )
