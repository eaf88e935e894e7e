"""The ops views of a recorded job (a bulk job's durable record, shared.jobs.records): its
state comes from the record, the one source of truth; Redis adds what only Redis knows (which
worker runs it, when its trigger is due, a failure's traceback). The admin's retry and abort of a
recorded job act on the record first, so a sweep can neither undo an abort nor lose a retry."""

import logging
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import Text, cast, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.errors import Conflict, NotFound
from shared.jobs import records
from shared.models.jobs import JobRecord, JobState
from shared.ops import actions
from shared.ops.detail import PREVIEW_CHARS, cut, preview, read_job_detail
from shared.ops.schemas import AbortRequested, JobDetail, JobErrorDetail, JobStatus, RetryAccepted

logger = logging.getLogger(__name__)


async def _arguments_preview(session: AsyncSession, job_id: str) -> str | None:
    # Cut in PostgreSQL: 100,000 items need not cross the wire to show 4,000 characters.
    arguments = func.left(cast(col(JobRecord.arguments), Text), PREVIEW_CHARS + 1)
    statement = select(arguments).where(col(JobRecord.id) == job_id)
    value = (await session.exec(statement)).one_or_none()
    return cut(value) if value is not None else None


async def job_detail(session: AsyncSession, redis: Redis, job_id: str) -> JobDetail | None:
    """One job in any state: a recorded job from its record (with Redis's extras), any other
    (outbox, cron) from Redis alone. None if neither knows it."""
    record = await records.read(session, job_id)
    if record is None:
        return await read_job_detail(redis, job_id)
    try:
        queued = await read_job_detail(redis, job_id)
    except (RedisError, OSError) as error:  # the record is the truth; Redis only adds extras
        logger.info("job %s shown without Redis's extras: %r", job_id, error)
        queued = None
    status = JobStatus(record.status)
    if status == JobStatus.queued and queued is not None and queued.status == JobStatus.deferred:
        status = JobStatus.deferred  # the trigger waits for its retry time
    traceback = queued.error.traceback if queued is not None and queued.error is not None else ""
    started, finished = record.started_at, record.finished_at
    return JobDetail(
        id=job_id,
        status=status,
        function=record.function,
        queue=record.queue,
        tries=record.tries,
        enqueued_at=record.created_at,
        run_at=queued.run_at if queued is not None else None,
        started_at=started,
        finished_at=finished,
        duration_ms=int((finished - started).total_seconds() * 1000) if started and finished else None,
        worker=queued.worker if queued is not None else None,
        progress=queued.progress if queued is not None and status == JobStatus.in_progress else None,
        args_preview=await _arguments_preview(session, job_id),
        result_preview=preview(record.result) if record.status == JobState.complete else None,
        error=JobErrorDetail(**record.error, traceback=traceback) if record.error else None,
        abort_requested=queued.abort_requested if queued is not None else False,
    )


async def retry(session: AsyncSession, redis: Redis, job_id: str, actor: actions.Actor) -> RetryAccepted | None:
    """Queue a failed recorded job again under its own id (its trigger goes after COMMIT); None
    if `job_id` has no record (the caller then retries it the Redis way)."""
    if await records.read(session, job_id) is None:
        return None
    record = await records.requeue_failed(session, job_id)
    await _audit(redis, actor, "retry", job_id, {"new_job_id": job_id, "function": record.function})
    return RetryAccepted(job_id=job_id, new_job_id=job_id, queue=record.queue)


async def abort(session: AsyncSession, redis: Redis, job_id: str, actor: actions.Actor) -> AbortRequested | None:
    """Fail an unfinished recorded job now, and ask Redis to cancel its trigger if one is queued
    or running; None if `job_id` has no record."""
    if await records.read(session, job_id) is None:
        return None
    before = await records.abort(session, job_id, by=actor.username)
    try:
        await actions.abort_job(redis, job_id, actor)
    except (NotFound, Conflict, RedisError, OSError):
        # No trigger in Redis (lost, between runs, or Redis down): the failed record is the abort;
        # a trigger that runs later finds it finished and does nothing, and the sweeper sends none.
        await _audit(redis, actor, "abort", job_id, {"status": before, "trigger": "none"})
    return AbortRequested(job_id=job_id, status=before)


async def _audit(redis: Redis, actor: actions.Actor, action: str, job_id: str, detail: dict[str, Any]) -> None:
    """The ops audit list is Redis's: without Redis, the action (on the record) still stands."""
    try:
        await actions.audit(redis, actor, action, job_id, detail)
    except (RedisError, OSError) as error:
        logger.warning("ops %s of job %s by %s not added to the audit list: %r", action, job_id, actor.username, error)
