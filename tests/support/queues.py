"""Putting jobs on arq's queues directly, as the ops tests do."""

from arq import ArqRedis

from shared.jobs.queues import Queue


async def enqueue(pool: ArqRedis, function: str, *args: object, queue: Queue = Queue.short, **options: object) -> str:
    """Any function by name (the ops tests' own ops_ok, ops_fail, ...), on `queue`; its job id."""
    job = await pool.enqueue_job(function, *args, _queue_name=queue, **options)  # type: ignore[arg-type]
    assert job is not None
    return job.job_id
