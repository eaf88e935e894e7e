"""Durable job records (shared.models.jobs.JobRecord): accepting a job, running it exactly
once at a time, its outcome, the sweeper's view, and the admin's retry and abort (retention is
shared.jobs.retention's).

The life of a record:
- `accept` inserts it (status queued) in the caller's transaction and asks for its trigger
  after COMMIT; a lost trigger is the sweeper's business (`stranded`), never the caller's.
- A worker runs it inside the job's ONE transaction: `lock` (a transaction-scoped advisory
  lock, so a second run of the same record, say one the sweeper enqueued after Redis lost the
  first, waits its turn instead of running beside it; the lock dies with the connection of a
  killed worker), `load`, `mark_started` (its own short transaction, so readers see
  in_progress), the work, then `complete` in the same transaction as the work.
- A job whose work raised is `fail`ed in a fresh transaction (its own rolled back). A job
  whose worker died or lost PostgreSQL stays unfinished and is run again by the sweeper;
  after MAX_RUNS starts that never finished, it is failed instead of started again.

Timestamps are clock_timestamp(), not now(): now() is when the transaction began, and the job's
transaction begins before its run is marked started (finished_at would precede started_at).
"""

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NoReturn

from sqlalchemy import Executable, Result, func, insert, select, text, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import unit_of_work
from shared.errors import Conflict, NotFound
from shared.jobs import registry
from shared.jobs.after_commit import enqueue_after_commit
from shared.jobs.spec import JobSpec
from shared.models.jobs import UNFINISHED, JobRecord, JobState

# How long finished records are kept (GET /jobs/{id} answers for them until then); retention
# (shared.jobs.retention) deletes them after, in small batches of its own.
JOB_RECORD_RETENTION_DAYS = 30
# Starts of one record that never finished (its worker killed each time, say) before it is
# failed rather than started again: a job that kills its worker must not do so for ever.
MAX_RUNS = 5

_T = JobRecord.__table__  # type: ignore[attr-defined]  # SQLModel declares no __table__ on the class


async def _read(session: AsyncSession, statement: Executable, params: Mapping[str, Any] | None = None) -> Result[Any]:
    """A Core read of the job table (its columns, not the model: never its arguments by accident)."""
    result: Result[Any] = await session.exec(statement, params=params)  # type: ignore[call-overload]  # SQLModel's exec() types only its own select(), not Core's
    return result


class RecordChanged(Exception):
    """The record stopped being this run's to finish (an admin aborted it meanwhile): the
    job's transaction must roll back, so its work is not committed under a failed record."""


@dataclass(frozen=True)
class JobView:
    """A record as read for showing it: every column but its arguments (which may hold 100,000
    items and are never needed to show a status). A plain value, not a table model: nothing of it
    is ever written back."""

    id: str
    function: str
    queue: str
    submitted_by: int | None
    status: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    tries: int
    result: dict[str, Any] | None
    error: dict[str, Any] | None


@dataclass(frozen=True)
class Trigger:
    """A record's trigger: what the sweeper (or an admin's retry) sends to Redis."""

    id: str
    function: str
    queue: str


async def accept(session: AsyncSession, job: JobSpec, arguments: dict[str, Any], submitted_by: int | None) -> str:
    """Record a job the caller is promised (one INSERT in the caller's transaction) and ask for
    its trigger after COMMIT. Its id is also the trigger's arq job id, so the sweeper's
    re-enqueue of the same record is a no-op while the first trigger is queued or running."""
    if not job.recorded:
        raise ValueError(f"{job.name!r} is not a recorded job (its JobSpec says recorded=False)")
    job_id = uuid.uuid4().hex
    await session.exec(
        insert(_T).values(
            id=job_id,
            function=job.name,
            queue=job.queue,
            arguments=arguments,
            submitted_by=submitted_by,
            status=JobState.queued,
        )
    )
    enqueue_after_commit(session, job, job_id=job_id, record_id=job_id)
    return job_id


async def read(session: AsyncSession, job_id: str) -> JobView | None:
    """The record without its arguments (up to 100,000 items: never needed to show a status)."""
    columns = [c for c in _T.c if c.name != "arguments"]
    row = (await _read(session, select(*columns).where(_T.c.id == job_id))).mappings().one_or_none()
    return None if row is None else JobView(**row)


async def lock(session: AsyncSession, job_id: str) -> bool:
    """Whether this transaction now holds the record's run lock (False: another run holds it)."""
    got = await _read(
        session,
        text("SELECT pg_try_advisory_xact_lock(hashtextextended('guildhall.job:' || :id, 0))"),
        params={"id": job_id},
    )
    return bool(got.scalar_one())


async def load(session: AsyncSession, job_id: str) -> tuple[str, int] | None:
    """(status, tries) of the record, or None if there is no such record. Its arguments are read
    by the work itself (`arguments`; a bulk update's items are staged apart, shared.heroes.bulk_staging)."""
    row = (await _read(session, select(_T.c.status, _T.c.tries).where(_T.c.id == job_id))).one_or_none()
    return None if row is None else (row.status, row.tries)


async def arguments(session: AsyncSession, job_id: str) -> dict[str, Any]:
    value: dict[str, Any] = (await _read(session, select(_T.c.arguments).where(_T.c.id == job_id))).scalar_one()
    return value


async def mark_started(factory: async_sessionmaker[Any], job_id: str) -> int:
    """In its own transaction (readers see in_progress while the job's transaction is open):
    status in_progress, one more try; the try number."""
    async with unit_of_work(factory) as session:
        tries = await session.exec(
            update(_T)
            .where(_T.c.id == job_id, _T.c.status.in_(UNFINISHED))
            .values(status=JobState.in_progress, started_at=func.clock_timestamp(), tries=_T.c.tries + 1)
            .returning(_T.c.tries)
        )
        started = tries.scalar_one_or_none()
    if started is None:  # aborted between its load and now
        raise RecordChanged(f"job {job_id} finished before this run could start (aborted?)")
    return int(started)


async def complete(session: AsyncSession, job_id: str, result: dict[str, Any]) -> None:
    """In the job's transaction: the outcome commits with the work, or neither does."""
    done = await session.exec(
        update(_T)
        .where(_T.c.id == job_id, _T.c.status == JobState.in_progress)
        .values(status=JobState.complete, result=result, error=None, finished_at=func.clock_timestamp())
        .returning(_T.c.id)
    )
    if done.scalar_one_or_none() is None:
        raise RecordChanged(f"job {job_id} is no longer in progress (aborted?); its work is rolled back")


async def fail(factory: async_sessionmaker[Any], job_id: str, error_type: str, message: str) -> None:
    """In a fresh transaction (the job's own was rolled back): failed, with why."""
    async with unit_of_work(factory) as session:
        await session.exec(
            update(_T)
            .where(_T.c.id == job_id, _T.c.status.in_(UNFINISHED))
            .values(
                status=JobState.failed,
                error={"type": error_type, "message": message},
                finished_at=func.clock_timestamp(),
            )
        )


async def stranded(session: AsyncSession, *, older_than: timedelta, limit: int) -> Sequence[Trigger]:
    """Unfinished records accepted more than `older_than` ago, oldest first: the sweeper enqueues
    each again (a no-op for one whose trigger is still queued or running)."""
    rows = await _read(
        session,
        select(_T.c.id, _T.c.function, _T.c.queue)
        .where(_T.c.status.in_(UNFINISHED), _T.c.created_at < func.now() - older_than)
        .order_by(_T.c.created_at)
        .limit(limit),
    )
    return [Trigger(row.id, row.function, row.queue) for row in rows]


async def requeue_failed(session: AsyncSession, job_id: str) -> Trigger:
    """The admin's retry of a failed record: queued again (same id, same arguments), its trigger
    sent after COMMIT. NotFound without a record; Conflict unless it failed."""
    row = (
        await session.exec(
            update(_T)
            .where(_T.c.id == job_id, _T.c.status == JobState.failed)
            # tries count the starts since it was last queued: a retried job gets all of MAX_RUNS.
            .values(status=JobState.queued, error=None, started_at=None, finished_at=None, tries=0)
            .returning(_T.c.function, _T.c.queue)
        )
    ).one_or_none()
    if row is None:
        await _explain(session, job_id, "job_not_failed", "only failed jobs are retried")
    enqueue_after_commit(session, registry.job(row.function), job_id=job_id, blocked_by_result=False, record_id=job_id)
    return Trigger(job_id, row.function, row.queue)


async def abort(session: AsyncSession, job_id: str, by: str) -> str:
    """The admin's abort: the record fails now (a run still going rolls back at its end, see
    `complete`); the status it had. NotFound without a record; Conflict once it finished."""
    before = (await _read(session, select(_T.c.status).where(_T.c.id == job_id).with_for_update())).scalar_one_or_none()
    if before not in UNFINISHED:
        await _explain(session, job_id, "job_finished", "it has finished; there is nothing to abort")
    await session.exec(
        update(_T)
        .where(_T.c.id == job_id)
        .values(
            status=JobState.failed,
            error={"type": "Aborted", "message": f"aborted by {by}"},
            finished_at=func.clock_timestamp(),
        )
    )
    return str(before)


async def _explain(session: AsyncSession, job_id: str, rule: str, message: str) -> NoReturn:
    exists = (await _read(session, select(col(JobRecord.id)).where(col(JobRecord.id) == job_id))).first()
    if exists is None:
        raise NotFound("job", job_id)
    raise Conflict(rule, f"job {job_id}: {message}")
