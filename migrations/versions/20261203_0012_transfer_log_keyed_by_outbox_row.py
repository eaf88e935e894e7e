"""transfer_log: one log per outbox row, not per client key

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 12:40:00

Idempotency keys expire (IDEMPOTENCY_KEY_HOURS), and a key used again after that makes a second
transfer; a unique idempotency_key would refuse its log for ever. The log is made unique by the
outbox row that writes it instead. Logs written before have no outbox row id (NULLs are distinct).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    # A new NULL column is a catalog change only; the unique index is built CONCURRENTLY below,
    # then attached as the constraint (a brief lock, no table scan).
    op.add_column("transfer_log", sa.Column("outbox_message_id", sa.BigInteger(), nullable=True))
    op.drop_constraint("uq_transfer_log_idempotency_key", "transfer_log", type_="unique")
    with op.get_context().autocommit_block():
        op.execute("DROP INDEX IF EXISTS uq_transfer_log_outbox_message_id")  # an interrupted earlier build
        op.execute(
            "CREATE UNIQUE INDEX CONCURRENTLY uq_transfer_log_outbox_message_id ON transfer_log (outbox_message_id)"
        )
    op.execute(
        "ALTER TABLE transfer_log ADD CONSTRAINT uq_transfer_log_outbox_message_id"
        " UNIQUE USING INDEX uq_transfer_log_outbox_message_id"
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_constraint("uq_transfer_log_outbox_message_id", "transfer_log", type_="unique")
    op.drop_column("transfer_log", "outbox_message_id")
    op.create_unique_constraint("uq_transfer_log_idempotency_key", "transfer_log", ["idempotency_key"])
