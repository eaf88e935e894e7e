"""A job's state for GET /api/v1/jobs/{id} and the ops views: its durable record in PostgreSQL
(shared.jobs.records), the one source of a job's status, result and error, plus the live
progress a running job reports to Redis (best effort: without Redis, no progress is shown)."""

import logging
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.jobs import progress, records
from shared.models.jobs import JobState

logger = logging.getLogger(__name__)

__all__ = ["JobErrorRead", "JobProgress", "JobRead", "JobState", "read_job"]


class JobProgress(BaseModel):
    """How far a running job is, as it reports it (shared.jobs.progress); the ops views show it too."""

    done: int
    total: int


class JobErrorRead(BaseModel):
    type: str
    message: str


class JobRead(BaseModel):
    job_id: str
    status: JobState
    function: str
    queue: str
    enqueued_at: datetime | None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    tries: int
    progress: JobProgress | None = None
    result: Any = None
    error: JobErrorRead | None = None


async def _progress(redis: Redis | None, job_id: str) -> JobProgress | None:
    if redis is None:
        return None
    try:
        done_total = progress.progress_of(await progress.read(redis, job_id))
    except (RedisError, OSError) as error:
        logger.info("progress of job %s not read: %r", job_id, error)
        return None
    return JobProgress(**done_total) if done_total else None


async def read_job(session: AsyncSession, redis: Redis | None, job_id: str) -> JobRead | None:
    """The job's state, or None if no such job was accepted (or its record outlived retention).
    Progress is shown while it runs and, once complete, as it last was."""
    record = await records.read(session, job_id)
    if record is None:
        return None
    status = JobState(record.status)
    shown = status in (JobState.in_progress, JobState.complete)
    return JobRead(
        job_id=record.id,
        status=status,
        function=record.function,
        queue=record.queue,
        enqueued_at=record.created_at,
        started_at=record.started_at,
        finished_at=record.finished_at,
        tries=record.tries,
        progress=await _progress(redis, job_id) if shown else None,
        result=record.result,
        error=JobErrorRead(**record.error) if record.error else None,
    )
