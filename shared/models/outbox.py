"""Durable intents written in the same transaction as the change that needs them.

The API never relies on Redis to remember work that must happen: a transfer's audit
and a new comment's moderation are outbox rows committed with the change itself.
The worker does the work and marks the row processed in one transaction; a sweeper
re-enqueues rows left unprocessed (Redis down, enqueue lost, worker killed).
"""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, ForeignKey, Index, Integer, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from shared.models.base import created_at_field, one_of

# Sweeps after which an unprocessed row is left as a dead letter (see OutboxMessage.sweeps).
MAX_SWEEPS = 30


class OutboxTopic(StrEnum):
    transfer_audit = "transfer_audit"
    comment_moderation = "comment_moderation"


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox"
    __table_args__ = (
        one_of("topic", OutboxTopic, "topic_valid"),
        # The ops backlog ("what is still waiting, and since when") reads only this index...
        Index("ix_outbox_pending_created_at", "created_at", postgresql_where=text("processed_at IS NULL")),
        # ...and the sweeper this one, which leaves dead letters (the oldest rows) out of its way.
        Index(
            "ix_outbox_sweepable_created_at",
            "created_at",
            postgresql_where=text(f"processed_at IS NULL AND sweeps < {MAX_SWEEPS}"),
        ),
    )

    id: int | None = Field(default=None, sa_type=BigInteger, primary_key=True)
    topic: str = Field(sa_type=String(40))
    payload: dict[str, Any] = Field(sa_type=JSONB)
    created_at: datetime = created_at_field()
    processed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    # How many times the sweeper re-enqueued the row. A row that keeps failing stops being
    # swept at MAX_SWEEPS (a dead letter, shown by the ops views), so it can neither loop
    # for ever nor crowd out rows that only need one more try.
    sweeps: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})


class IdempotencyRecord(SQLModel, table=True):
    """The first response to a request sent with an Idempotency-Key, per user, for replay."""

    __tablename__ = "idempotency_key"

    user_id: int = Field(sa_column=Column(Integer, ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True))
    key: str = Field(sa_type=String(200), primary_key=True)
    # What the key was first used for: the same key on another request is refused, not replayed.
    request_fingerprint: str = Field(sa_type=String(64))
    status_code: int
    response_body: dict[str, Any] = Field(sa_type=JSONB)
    created_at: datetime = created_at_field()
