"""The ops views' SQL reads: the outbox backlog (rows still waiting, and the oldest one's age),
and the accepted bulk jobs not yet finished (their durable records).

A growing outbox means Redis or the worker is in trouble: rows are written with the change
that needs them and marked processed by the worker. Served by the partial index on
created_at WHERE processed_at IS NULL, so its cost follows the backlog, not the table.
"""

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.models.base import now_utc
from shared.models.jobs import MAX_SWEEPS, UNFINISHED, JobRecord, JobState, OutboxMessage
from shared.ops.schemas import JobBacklog, OpsSummary, OutboxBacklog


async def outbox_backlog(session: AsyncSession) -> OutboxBacklog:
    statement = select(
        func.count(),
        func.min(OutboxMessage.created_at),
        func.count().filter(col(OutboxMessage.sweeps) >= MAX_SWEEPS),
    ).where(col(OutboxMessage.processed_at).is_(None))
    waiting, oldest, dead = (await session.exec(statement)).one()
    age = max(0.0, (now_utc() - oldest).total_seconds()) if oldest is not None else None
    return OutboxBacklog(waiting=waiting, oldest_age_seconds=age, dead=dead)


async def job_backlog(session: AsyncSession) -> JobBacklog:
    """Served by the partial index on unfinished records, like the outbox's."""
    statement = select(
        func.count().filter(col(JobRecord.status) == JobState.queued),
        func.count().filter(col(JobRecord.status) == JobState.in_progress),
        func.min(JobRecord.created_at),
    ).where(col(JobRecord.status).in_(UNFINISHED))
    queued, running, oldest = (await session.exec(statement)).one()
    age = max(0.0, (now_utc() - oldest).total_seconds()) if oldest is not None else None
    return JobBacklog(queued=queued, in_progress=running, oldest_age_seconds=age)


async def add_database_views(summary: OpsSummary, session: AsyncSession) -> OpsSummary:
    """What only PostgreSQL knows, added to the Redis summary: the outbox and the accepted jobs."""
    summary.outbox = await outbox_backlog(session)
    summary.jobs = await job_backlog(session)
    return summary
