"""The admin actions on the queues: retry a failed job, abort a queued or running one, purge
finished results. The only ops code that changes queue state; each action is audited (a log
line and an entry in the capped list guildhall:ops:audit: who, when, what)."""

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from arq import ArqRedis
from redis.asyncio import Redis

from shared.errors import Conflict, NotFound
from shared.jobs import progress, registry
from shared.ops import keys
from shared.ops.batch import Batch
from shared.ops.clock import now_ms
from shared.ops.keys import AuditRecord, RecordField
from shared.ops.queues import ask_placement
from shared.ops.schemas import AbortRequested, JobStatus, PurgeResult, PurgeScope, RetryAccepted

logger = logging.getLogger("guildhall.ops.audit")

SCAN_BATCH = 1000
RETRY_SUFFIX = ":retry"


@dataclass(frozen=True)
class Actor:
    username: str
    user_id: int | None


async def audit(redis: Redis, actor: Actor, action: str, job_id: str | None, detail: dict[str, Any]) -> None:
    logger.info("ops %s job=%s by %s (user %s): %s", action, job_id, actor.username, actor.user_id, detail)
    entry: AuditRecord = {
        "at_ms": now_ms(),
        "user": actor.username,
        "user_id": actor.user_id,
        "action": action,
        "job_id": job_id,
        "detail": detail,
    }
    async with redis.pipeline(transaction=True) as pipe:
        pipe.lpush(keys.AUDIT, json.dumps(entry))
        pipe.ltrim(keys.AUDIT, 0, keys.AUDIT_CAP - 1)
        await pipe.execute()


async def retry_job(pool: ArqRedis, job_id: str, actor: Actor) -> RetryAccepted:
    """Enqueue a failed job again: same function and arguments, a new job id, onto its queue.
    Needs arq's result (it holds the arguments): once that expired or was purged, 409."""
    async with pool.pipeline(transaction=False) as pipe:
        pipe.get(keys.result(job_id))
        pipe.hexists(progress.key(job_id), RecordField.error_type)
        raw, failed_on_record = await pipe.execute()
    if raw is None:
        if failed_on_record:
            raise Conflict("job_result_expired", f"job {job_id}'s arguments expired with its result; cannot retry")
        raise NotFound("job", job_id)
    data = json.loads(raw)
    if data.get("s"):
        raise Conflict("job_not_failed", f"job {job_id} completed; only failed jobs are retried")
    function: str = data["f"]
    queue = str(data.get("q") or registry.function_queues().get(function) or pool.default_queue_name)
    # One retry per failed job: the new id derives from the old one, so a second click (or two
    # admins at once) finds it taken and gets the same answer instead of a second run.
    new_job_id = f"{job_id}{RETRY_SUFFIX}"
    job = await pool.enqueue_job(
        function, *data.get("a", []), _job_id=new_job_id, _queue_name=queue, **data.get("k", {})
    )
    if job is None:
        return RetryAccepted(job_id=job_id, new_job_id=new_job_id, queue=queue)
    async with pool.pipeline(transaction=True) as pipe:
        pipe.hset(progress.key(job_id), RecordField.retried_as, new_job_id)
        pipe.expire(progress.key(job_id), progress.JOB_KEY_TTL_SECONDS)
        pipe.hset(progress.key(new_job_id), RecordField.retry_of, job_id)
        pipe.expire(progress.key(new_job_id), progress.JOB_KEY_TTL_SECONDS)
        await pipe.execute()
    await audit(pool, actor, "retry", job_id, {"new_job_id": new_job_id, "function": function, "queue": queue})
    return RetryAccepted(job_id=job_id, new_job_id=new_job_id, queue=queue)


async def abort_job(
    redis: Redis, job_id: str, actor: Actor, *, queues: tuple[str, ...] = keys.QUEUES
) -> AbortRequested:
    """Ask for a queued or running job to be aborted, as arq's Job.abort does, without waiting:
    a deferred job is made due now, and its id goes into arq:abort. A worker then cancels it
    (running) or fails it before it starts (queued); it ends as failed with CancelledError."""
    now = now_ms()
    batch = Batch(redis)
    batch("finished").exists(keys.result(job_id))
    read_placement = ask_placement(batch, job_id, queues)
    replies = await batch.execute()
    if replies["finished"]:
        raise Conflict("job_finished", f"job {job_id} has finished; there is nothing to abort")
    placement = read_placement(replies)
    if placement is None:
        raise NotFound("job", job_id)
    queue, status = placement.queue, placement.status(now)
    async with redis.pipeline(transaction=True) as pipe:
        if status == JobStatus.deferred:
            pipe.zadd(queue, {job_id: 1})  # due at once, so a worker picks it up and fails it as aborted
        pipe.zadd(keys.ABORT_SET, {job_id: now})
        await pipe.execute()
    await audit(redis, actor, "abort", job_id, {"queue": queue, "status": status.value})
    return AbortRequested(job_id=job_id, status=status.value)


async def purge_results(redis: Redis, scope: PurgeScope, actor: Actor) -> PurgeResult:
    """Delete finished jobs' results (arq:result:*), all or only complete / failed ones, and their
    entries in the recent lists. SCAN in batches: Redis is never blocked, however many there are."""
    purged = 0
    async for batch in _scan_batches(redis, f"{keys.RESULT_PREFIX}*"):
        doomed = batch if scope == PurgeScope.all else await _matching(redis, batch, scope)
        if doomed:
            purged += await redis.unlink(*doomed)
    await _prune_list(redis, keys.RECENT, scope)
    await _prune_list(redis, keys.RECENT_FAILED, scope)
    await audit(redis, actor, "purge", None, {"status": scope.value, "purged": purged})
    return PurgeResult(purged=purged, status=scope)


async def _scan_batches(redis: Redis, pattern: str) -> AsyncIterator[list[bytes]]:
    cursor = 0
    while True:
        cursor, found = await redis.scan(cursor, match=pattern, count=SCAN_BATCH)
        if found:
            yield list(found)
        if cursor == 0:
            return


async def _matching(redis: Redis, result_keys: list[bytes], scope: PurgeScope) -> list[bytes]:
    async with redis.pipeline(transaction=False) as pipe:
        for key in result_keys:
            pipe.get(key)
        raws = await pipe.execute()
    wanted = scope == PurgeScope.complete
    return [key for key, raw in zip(result_keys, raws, strict=True) if raw and bool(json.loads(raw).get("s")) == wanted]


async def _prune_list(redis: Redis, list_key: str, scope: PurgeScope) -> None:
    """Remove the matching entries one by one (LREM): entries workers push meanwhile stay."""
    batch = Batch(redis)
    batch("entries").lrange(list_key, 0, -1)
    entries: list[bytes] = (await batch.execute())["entries"]
    doomed = {entry for entry in entries if scope == PurgeScope.all or json.loads(entry).get("status") == scope.value}
    if not doomed:
        return
    async with redis.pipeline(transaction=False) as pipe:
        for entry in doomed:
            pipe.lrem(list_key, 0, entry)  # type: ignore[arg-type]  # redis-py types it str; it takes bytes as read
        await pipe.execute()
