"""Retry, abort and discard of many jobs at once in Redis (jobs with no durable record; those are
shared.ops.bulk_records'), with each job's outcome. The same rules as the single-job actions of
shared.ops.actions, but every job's state is read in ONE pipelined round trip, and the writes of
an abort or a discard go in one more; a retry's enqueue is arq's own (one per job: it must find
the new id free, atomically).

Nothing is written for a dry run: the outcomes say what would happen."""

import json
from dataclasses import dataclass
from typing import Any

from arq import ArqRedis
from redis.asyncio import Redis

from shared.jobs import progress, registry
from shared.ops import keys
from shared.ops.actions import RETRY_SUFFIX
from shared.ops.batch import Batch, Replies, text
from shared.ops.clock import now_ms
from shared.ops.dead_letter_schemas import ActedOn, ItemOutcome
from shared.ops.keys import RecordField
from shared.ops.schemas import JobStatus


def ok(job_id: str, reason: str | None = None, new_job_id: str | None = None) -> ActedOn:
    return ActedOn(id=job_id, outcome=ItemOutcome.ok, reason=reason, new_job_id=new_job_id)


def conflict(job_id: str, rule: str) -> ActedOn:
    return ActedOn(id=job_id, outcome=ItemOutcome.conflict, reason=rule)


def not_found(job_id: str) -> ActedOn:
    return ActedOn(id=job_id, outcome=ItemOutcome.not_found)


@dataclass(frozen=True)
class _Retry:
    job_id: str
    function: str
    queue: str
    args: list[Any]
    kwargs: dict[str, Any]


async def retry_jobs(pool: ArqRedis, job_ids: list[str], *, dry_run: bool) -> list[ActedOn]:
    """Each failed job enqueued again as `<id>:retry` (as shared.ops.actions.retry_job): a job
    retried before answers ok with the same new id, and no second run."""
    batch = Batch(pool)
    for job_id in job_ids:
        batch("result", job_id).get(keys.result(job_id))
        batch("failed", job_id).hexists(progress.key(job_id), RecordField.error_type)
        batch("retried_as", job_id).hget(progress.key(job_id), RecordField.retried_as)
    replies = await batch.execute()
    outcomes: dict[str, ActedOn] = {}
    todo: list[_Retry] = []
    for job_id in job_ids:
        raw, retried_as = replies["result", job_id], text(replies["retried_as", job_id])
        if retried_as is not None:
            outcomes[job_id] = ok(job_id, "retried before", retried_as)
        elif raw is None:
            outcomes[job_id] = (
                conflict(job_id, "job_result_expired") if replies["failed", job_id] else not_found(job_id)
            )
        elif (data := json.loads(raw)).get("s"):
            outcomes[job_id] = conflict(job_id, "job_not_failed")
        else:
            function = str(data["f"])
            queue = str(data.get("q") or registry.function_queues().get(function) or pool.default_queue_name)
            todo.append(_Retry(job_id, function, queue, data.get("a", []), data.get("k", {})))
    if dry_run:
        outcomes.update({job.job_id: ok(job.job_id, "would retry") for job in todo})
        return [outcomes[job_id] for job_id in job_ids]
    enqueued: list[_Retry] = []
    for job in todo:
        new_id = f"{job.job_id}{RETRY_SUFFIX}"
        sent = await pool.enqueue_job(job.function, *job.args, _job_id=new_id, _queue_name=job.queue, **job.kwargs)
        outcomes[job.job_id] = ok(job.job_id, "retried" if sent else "retried before", new_id)
        if sent is not None:
            enqueued.append(job)
    if enqueued:
        async with pool.pipeline(transaction=False) as pipe:
            for job in enqueued:
                new_id = f"{job.job_id}{RETRY_SUFFIX}"
                pipe.hset(progress.key(job.job_id), RecordField.retried_as, new_id)
                pipe.expire(progress.key(job.job_id), progress.JOB_KEY_TTL_SECONDS)
                pipe.hset(progress.key(new_id), RecordField.retry_of, job.job_id)
                pipe.expire(progress.key(new_id), progress.JOB_KEY_TTL_SECONDS)
            await pipe.execute()
    return [outcomes[job_id] for job_id in job_ids]


def _ask_places(batch: Batch, job_ids: list[str], queues: tuple[str, ...]) -> None:
    for job_id in job_ids:
        batch("finished", job_id).exists(keys.result(job_id))
        batch("held", job_id).exists(keys.in_progress(job_id))
        for queue in queues:
            batch("score", f"{queue} {job_id}").zscore(queue, job_id)


def _place(replies: Replies, job_id: str, queues: tuple[str, ...], now: int) -> tuple[str, JobStatus] | None:
    for queue in queues:
        if (score := replies["score", f"{queue} {job_id}"]) is not None:
            held = bool(replies["held", job_id])
            return queue, JobStatus.in_progress if held else JobStatus.deferred if score > now else JobStatus.queued
    return None


async def abort_jobs(
    redis: Redis, job_ids: list[str], *, dry_run: bool, queues: tuple[str, ...] = keys.QUEUES
) -> list[ActedOn]:
    """Each queued, deferred or running job asked to abort, as arq's Job.abort does (its id in
    arq:abort, a deferred one made due now): its worker fails it with CancelledError."""
    now = now_ms()
    batch = Batch(redis)
    _ask_places(batch, job_ids, queues)
    replies = await batch.execute()
    outcomes: list[ActedOn] = []
    doomed: list[tuple[str, str, JobStatus]] = []
    for job_id in job_ids:
        place = _place(replies, job_id, queues, now)
        if replies["finished", job_id]:
            outcomes.append(conflict(job_id, "job_finished"))
        elif place is None:
            outcomes.append(not_found(job_id))
        else:
            outcomes.append(ok(job_id, f"{'would abort' if dry_run else 'abort asked'} ({place[1]})"))
            doomed.append((job_id, *place))
    if doomed and not dry_run:
        async with redis.pipeline(transaction=True) as pipe:
            for job_id, queue, status in doomed:
                if status == JobStatus.deferred:
                    pipe.zadd(queue, {job_id: 1})  # due at once, so a worker picks it up and fails it
                pipe.zadd(keys.ABORT_SET, {job_id: now})
            await pipe.execute()
    return outcomes


async def discard_jobs(
    redis: Redis, job_ids: list[str], *, dry_run: bool, queues: tuple[str, ...] = keys.QUEUES
) -> list[ActedOn]:
    """Each finished job forgotten: its result, its record (guildhall:job:<id>) and its entries
    in the recent lists deleted. An unfinished job is a conflict: abort it first."""
    now = now_ms()
    batch = Batch(redis)
    _ask_places(batch, job_ids, queues)
    for job_id in job_ids:
        batch("failure", job_id).hexists(progress.key(job_id), RecordField.error_type)
    batch("recent").lrange(keys.RECENT, 0, -1)
    batch("recent_failed").lrange(keys.RECENT_FAILED, 0, -1)
    replies = await batch.execute()
    outcomes: list[ActedOn] = []
    doomed: list[str] = []
    for job_id in job_ids:
        if replies["finished", job_id] or (replies["failure", job_id] and _place(replies, job_id, queues, now) is None):
            outcomes.append(ok(job_id, "would discard" if dry_run else "discarded"))
            doomed.append(job_id)
        elif _place(replies, job_id, queues, now) is not None:
            outcomes.append(conflict(job_id, "job_not_finished"))
        else:
            outcomes.append(not_found(job_id))
    if doomed and not dry_run:
        gone = set(doomed)
        async with redis.pipeline(transaction=False) as pipe:
            for job_id in doomed:
                pipe.unlink(keys.result(job_id), progress.key(job_id))
            for list_key, name in ((keys.RECENT, "recent"), (keys.RECENT_FAILED, "recent_failed")):
                for entry in replies[name]:
                    if json.loads(entry).get("id") in gone:
                        pipe.lrem(list_key, 0, entry)
            await pipe.execute()
    return outcomes
