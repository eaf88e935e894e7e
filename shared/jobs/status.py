"""Reading a job's state from Redis, whichever queue it is on (for GET /api/v1/jobs/{id})."""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from arq import ArqRedis
from arq.jobs import Job, JobStatus
from pydantic import BaseModel

from shared.jobs import progress
from shared.jobs.queues import Queue
from shared.jobs.serialization import JobError, deserialize


class JobState(StrEnum):
    queued = "queued"
    in_progress = "in_progress"
    complete = "complete"
    failed = "failed"


class JobProgress(BaseModel):
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


def _ms(value: int | None) -> datetime | None:
    return datetime.fromtimestamp(value / 1000, UTC) if value else None


async def read_job(redis: ArqRedis, job_id: str) -> JobRead | None:
    """The job's state, or None if Redis knows no such job (never enqueued, or expired)."""
    record = await progress.read(redis, job_id)
    for queue in Queue:
        job = Job(job_id, redis, _queue_name=queue, _deserializer=deserialize)
        result = await job.result_info()
        if result is not None:
            error = result.result if isinstance(result.result, JobError) else None
            return JobRead(
                job_id=job_id,
                status=JobState.complete if result.success else JobState.failed,
                function=result.function,
                queue=result.queue_name,
                enqueued_at=result.enqueue_time,
                started_at=result.start_time,
                finished_at=result.finish_time,
                tries=result.job_try,
                progress=progress.progress_of(record),
                result=None if error else result.result,
                error=JobErrorRead(type=error.type, message=error.message) if error else None,
            )
        status = await job.status()
        if status in (JobStatus.queued, JobStatus.deferred, JobStatus.in_progress):
            definition = await job.info()
            if definition is None:
                continue
            running = status == JobStatus.in_progress
            tries = int(await redis.get(f"arq:retry:{job_id}") or 0)
            return JobRead(
                job_id=job_id,
                status=JobState.in_progress if running else JobState.queued,
                function=definition.function,
                queue=queue,
                enqueued_at=definition.enqueue_time,
                started_at=_ms(record.get("started_ms")) if running else None,
                tries=tries,
                progress=progress.progress_of(record) if running else None,
            )
    return None
