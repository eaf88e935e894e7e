"""Enqueueing a job: by its declaration (`enqueue`), and with a fixed id in ONE Redis round trip
(`enqueue_unique`, which the after-commit sends and the sweepers use).

arq's `enqueue_job` refuses a second job with the same id (queued, running, or its result
kept) with WATCH, EXISTS, then MULTI/PSETEX/ZADD/EXEC: three round trips. The same check and
the same two writes as one Lua script are one round trip, and just as atomic (Redis runs a
script alone). The keys and the payload are exactly arq's (its `serialize_job`, our JSON
serializer), so arq's worker runs the job as if arq had enqueued it.
"""

from typing import Any

from arq import ArqRedis
from arq.constants import job_key_prefix, result_key_prefix
from arq.jobs import Job, serialize_job
from arq.utils import timestamp_ms
from redis.exceptions import NoScriptError

from shared.jobs.spec import JobSpec

# KEYS: job key, result key (or the job key again, when a kept result must not block), queue.
_ENQUEUE_UNLESS_KNOWN = """
if redis.call('EXISTS', KEYS[1], KEYS[2]) > 0 then
    return 0
end
redis.call('PSETEX', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[4])
return 1
"""


async def enqueue_unique(
    redis: ArqRedis,
    function: str,
    *,
    job_id: str,
    queue: str,
    blocked_by_result: bool = True,
    run_at_ms: int | None = None,
    **kwargs: Any,
) -> bool:
    """Enqueue `function(**kwargs)` as job `job_id` on `queue`; False (nothing written)
    if a job with that id is already queued or running, or (unless `blocked_by_result` is False)
    has its result kept. The sweeper passes False: it re-enqueues only rows PostgreSQL says are still
    waiting, so whatever result a previous try left (a failure, or a skip) must not delay the retry.
    `run_at_ms`: not before then (arq's deferred score); default now."""
    now = timestamp_ms()
    score = max(now, run_at_ms or now)
    payload = serialize_job(function, (), kwargs, None, now, serializer=redis.job_serializer)
    script = redis.register_script(_ENQUEUE_UNLESS_KNOWN)  # EVALSHA, loading the script if Redis lost it
    keys = [job_key_prefix + job_id, (result_key_prefix if blocked_by_result else job_key_prefix) + job_id, queue]
    args: list[int | bytes | str] = [redis.expires_extra_ms + score - now, payload, score, job_id]
    try:
        written = await script(keys=keys, args=args)
    except NoScriptError:
        # A failover between redis-py's SCRIPT LOAD and its second EVALSHA: the load reached the
        # demoted node, the EVALSHA (after a reconnect) the new master, which never saw the script.
        written = await script(keys=keys, args=args)
    return bool(written)


async def enqueue(redis: ArqRedis, job: JobSpec, *, job_id: str | None = None, **kwargs: Any) -> Job | None:
    """Enqueue `job(**kwargs)` on its queue, by its declaration (arq's enqueue_job, which knows
    functions by name alone); None if a job with `job_id` is already known (arq's rule)."""
    return await redis.enqueue_job(job.name, _job_id=job_id, _queue_name=job.queue, **kwargs)
