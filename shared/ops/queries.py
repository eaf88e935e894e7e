"""The ops views' one SQL read: the outbox backlog (rows still waiting, and the oldest one's age).

A growing outbox means Redis or the worker is in trouble: rows are written with the change
that needs them and marked processed by the worker. Served by the partial index on
created_at WHERE processed_at IS NULL, so its cost follows the backlog, not the table.
"""

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.models import OutboxMessage
from shared.models.base import now_utc
from shared.models.outbox import MAX_SWEEPS
from shared.ops.schemas import OutboxBacklog


async def outbox_backlog(session: AsyncSession) -> OutboxBacklog:
    statement = select(
        func.count(),
        func.min(OutboxMessage.created_at),
        func.count().filter(col(OutboxMessage.sweeps) >= MAX_SWEEPS),
    ).where(col(OutboxMessage.processed_at).is_(None))
    waiting, oldest, dead = (await session.exec(statement)).one()
    age = max(0.0, (now_utc() - oldest).total_seconds()) if oldest is not None else None
    return OutboxBacklog(waiting=waiting, oldest_age_seconds=age, dead=dead)
