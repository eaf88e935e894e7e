"""Writing and reading outbox rows (see shared/models/jobs.py for why they exist), and the generic
job that processes one: it finds what the row's topic means in the topic's handler (a domain's
jobs.py declares it in OUTBOX_HANDLERS; shared.jobs.registry collects them). One transaction: the
effect and the `processed_at` mark commit together, so the effect happens exactly once per row.
"""

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import BigInteger, Insert, any_, bindparam, insert, update
from sqlalchemy.orm import make_transient_to_detached
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import flush
from shared.errors import constraint_errors
from shared.jobs import registry
from shared.jobs.after_commit import enqueue_after_commit
from shared.jobs.context import Ctx, settings_of, transaction
from shared.jobs.queues import Queue
from shared.jobs.spec import JobSpec
from shared.models.base import now_utc
from shared.models.jobs import MAX_SWEEPS, OutboxMessage, OutboxTopic
from shared.settings import Settings
from shared.sql import array_param


def job_id_for(message_id: int) -> str:
    """One deterministic arq job id per outbox row: arq refuses a second enqueue of the same
    id while the first is queued, running or its result is kept, so never twice at once."""
    return f"outbox:{message_id}"


def _insert_message() -> Insert:
    # Core, built once: the ORM's unit of work (flush) costs several times this statement's own time.
    table = OutboxMessage.__table__  # type: ignore[attr-defined]  # SQLModel declares no __table__ on the class
    values: dict[str, Any] = {
        "topic": bindparam("topic"),
        "payload": bindparam("payload"),
        "created_at": bindparam("now"),
    }
    return insert(table).values(**values).returning(table.c.id)


_INSERT_MESSAGE = _insert_message()


async def record(session: AsyncSession, topic: OutboxTopic, payload: dict[str, Any]) -> OutboxMessage:
    """Write the intent in the caller's transaction, and ask for its job once that commits.
    Returns the row as a persistent object of the session (no second round trip)."""
    now = now_utc()
    with constraint_errors():
        result = await session.exec(_INSERT_MESSAGE, params={"topic": topic, "payload": payload, "now": now})
        message_id: int = result.scalar_one()
    handler = registry.outbox_handler(topic)
    if handler.batch is not None:  # one job per window of commits, for every row of the topic
        enqueue_after_commit(session, handler.batch, window_ms=handler.batch_window_ms)
    else:
        enqueue_after_commit(session, PROCESS_OUTBOX_MESSAGE, job_id=job_id_for(message_id), message_id=message_id)
    row = OutboxMessage(id=message_id, topic=topic, payload=payload, created_at=now, processed_at=None, sweeps=0)
    make_transient_to_detached(row)  # as if loaded: in the session, clean, no SQL
    session.add(row)
    return row


async def lock_pending(session: AsyncSession, message_id: int) -> OutboxMessage | None:
    """The row, locked for this transaction, if it is still waiting; None if done or gone.

    The lock makes two runs of the same job (at-least-once delivery) take turns; the
    second then finds processed_at set and does nothing.
    """
    statement = (
        select(OutboxMessage)
        .where(col(OutboxMessage.id) == message_id, col(OutboxMessage.processed_at).is_(None))
        .with_for_update()
    )
    return (await session.exec(statement)).first()


async def claim_waiting(
    session: AsyncSession, topic: OutboxTopic, *, limit: int, exclude: int
) -> Sequence[tuple[int, Mapping[str, Any]]]:
    """Up to `limit` other waiting rows of `topic` (id, payload), oldest first, locked for this
    transaction. Rows another transaction holds are skipped (SKIP LOCKED: it is processing them),
    and so are dead letters, so one poison row is not retried by every batch."""
    statement = (
        select(OutboxMessage.id, OutboxMessage.payload)
        .where(
            col(OutboxMessage.processed_at).is_(None),
            col(OutboxMessage.topic) == topic,
            col(OutboxMessage.sweeps) < MAX_SWEEPS,
            col(OutboxMessage.id) != exclude,
        )
        .order_by(col(OutboxMessage.created_at))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    # The id is the primary key (never NULL), though the model types it optional until inserted.
    return [
        (message_id, payload) for message_id, payload in (await session.exec(statement)).all() if message_id is not None
    ]


async def mark_all_processed(session: AsyncSession, message_ids: Sequence[int]) -> None:
    """processed_at for every row of `message_ids`, in one statement."""
    await session.exec(
        update(OutboxMessage)
        .where(col(OutboxMessage.id) == any_(array_param("ids", message_ids, BigInteger())))
        .values(processed_at=now_utc())
        .execution_options(synchronize_session=False)
    )


def mark_processed(message: OutboxMessage) -> None:
    message.processed_at = now_utc()


async def waiting(session: AsyncSession, *, older_than: timedelta, limit: int) -> Sequence[int]:
    """Ids of rows still unprocessed after `older_than` and not yet dead letters (swept
    MAX_SWEEPS times), oldest first (served by the partial index on pending rows)."""
    statement = (
        select(OutboxMessage.id)
        .where(
            col(OutboxMessage.processed_at).is_(None),
            col(OutboxMessage.created_at) < now_utc() - older_than,
            col(OutboxMessage.sweeps) < MAX_SWEEPS,
        )
        .order_by(col(OutboxMessage.created_at))
        .limit(limit)
    )
    return [message_id for message_id in (await session.exec(statement)).all() if message_id is not None]


async def count_sweeps(session: AsyncSession, message_ids: Sequence[int]) -> None:
    """One more sweep for each row the sweeper actually enqueued again, in one statement."""
    if message_ids:
        await session.exec(
            update(OutboxMessage)
            .where(col(OutboxMessage.id) == any_(array_param("ids", message_ids, BigInteger())))
            .values(sweeps=col(OutboxMessage.sweeps) + 1)
            .execution_options(synchronize_session=False)
        )


async def process(session: AsyncSession, message_id: int, settings: Settings) -> dict[str, Any]:
    """Process one outbox row if it still waits; a second run (at-least-once) finds it done."""
    message = await lock_pending(session, message_id)
    if message is None:
        return {"message_id": message_id, "skipped": "already processed or gone"}
    result = await registry.outbox_handler(message.topic).handle(session, message, settings)
    mark_processed(message)
    await flush(session)
    return {"message_id": message_id, "topic": message.topic, **result}


async def process_outbox_message(ctx: Ctx, message_id: int) -> dict[str, Any]:
    """Do what the outbox row says (audit a transfer, moderate a comment, ...); idempotent."""
    async with transaction(ctx) as session:
        return await process(session, message_id, settings_of(ctx))


# Its result is kept briefly: while kept, the sweeper cannot enqueue the same deterministic id
# again, so a failed one is retried soon after.
PROCESS_OUTBOX_MESSAGE = JobSpec(process_outbox_message, Queue.short, max_tries=10, keep_result_seconds=60)
