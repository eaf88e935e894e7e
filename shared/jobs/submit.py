"""Enqueueing a job the caller waits for (the bulk jobs): no outbox, the caller is told.

If Redis cannot take the job, the request fails with QueueUnavailable (HTTP 503) and
nothing was accepted, so nothing is lost; a 202 means the job is in Redis.
"""

from typing import Any

from arq import ArqRedis
from pydantic import BaseModel
from redis.exceptions import RedisError

from shared.errors import DomainError
from shared.jobs.queues import FUNCTION_QUEUES


class QueueUnavailable(DomainError):
    pass


class JobAccepted(BaseModel):
    job_id: str
    status_url: str


async def submit(pool: ArqRedis, function: str, **kwargs: Any) -> str:
    try:
        job = await pool.enqueue_job(function, _queue_name=FUNCTION_QUEUES[function], **kwargs)
    except (RedisError, OSError) as error:
        raise QueueUnavailable(
            f"the job queue is unavailable ({type(error).__name__}); nothing was enqueued"
        ) from error
    assert job is not None  # a fresh random job id never collides
    return job.job_id
