"""Finding jobs in Redis by what they are, for the bulk actions and the dead letters: finished
jobs from arq's kept results (SCAN in batches, each batch's reads one pipelined round trip, never
KEYS), queued, deferred and running ones from the queues' sorted sets (bounded slices).

What is kept is bounded by arq's result retention (1 h short, 1 day bulk), so a scan is too; a
recorded job's state is its record's (shared.jobs.records), so its results are left out here."""

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from shared.jobs import progress, registry
from shared.jobs.serialization import ERROR_MARKER
from shared.ops import keys
from shared.ops.batch import Batch, text
from shared.ops.clock import now_ms
from shared.ops.keys import RecordField
from shared.ops.peek import ask_heads
from shared.ops.schemas import JobStatus

SCAN_BATCH = 1000
# The most waiting or running jobs read per queue and status when a filter selects them.
QUEUE_SLICE = 10_000


@dataclass(frozen=True)
class Finished:
    """A finished job, from arq's result (and the retry an admin made of it)."""

    id: str
    function: str | None
    queue: str | None
    success: bool
    tries: int | None
    finished_ms: int
    error_type: str | None
    error_message: str | None
    retried_as: str | None


def _finished(job_id: str, raw: bytes, retried_as: bytes | None) -> Finished | None:
    try:
        data: dict[str, Any] = json.loads(raw)
    except ValueError:
        return None
    error_type = error_message = None
    outcome = data.get("r")
    if not data.get("s"):
        details = outcome.get(ERROR_MARKER) if isinstance(outcome, dict) else None
        error_type = str(details.get("type", "Error")) if isinstance(details, dict) else "Error"
        error_message = str(details.get("message", "")) if isinstance(details, dict) else str(outcome)
    return Finished(
        id=job_id,
        function=data.get("f"),
        queue=data.get("q"),
        success=bool(data.get("s")),
        tries=data.get("t"),
        finished_ms=int(data.get("ft") or 0),
        error_type=error_type,
        error_message=error_message,
        retried_as=text(retried_as),
    )


async def finished_jobs(redis: Redis) -> AsyncIterator[list[Finished]]:
    """Every finished job Redis keeps a result of, a SCAN batch at a time (one round trip for the
    batch's reads); recorded jobs and cron runs left out (a record or the sweep itself is the truth)."""
    recorded = registry.recorded_functions()
    cursor = 0
    while True:
        cursor, found = await redis.scan(cursor, match=f"{keys.RESULT_PREFIX}*", count=SCAN_BATCH)
        job_ids = [job_id for key in found if not keys.is_cron(job_id := key.decode().removeprefix(keys.RESULT_PREFIX))]
        if job_ids:
            batch = Batch(redis)
            for job_id in job_ids:
                batch("result", job_id).get(keys.result(job_id))
                batch("retried_as", job_id).hget(progress.key(job_id), RecordField.retried_as)
            replies = await batch.execute()
            jobs = [
                job
                for job_id in job_ids
                if (raw := replies["result", job_id]) is not None
                and (job := _finished(job_id, raw, replies["retried_as", job_id])) is not None
                and job.function not in recorded
            ]
            yield jobs
        if cursor == 0:
            return


@dataclass(frozen=True)
class Unfinished:
    id: str
    function: str | None
    queue: str
    status: JobStatus


async def unfinished_jobs(redis: Redis, queues: tuple[str, ...], statuses: tuple[JobStatus, ...]) -> list[Unfinished]:
    """Queued, deferred or running jobs of `queues` (as `statuses` asks), QUEUE_SLICE at most per
    queue and status, with their functions peeked from their definitions: two round trips."""
    now = now_ms()
    batch = Batch(redis)
    for queue in queues:
        batch("running", queue).zrange(keys.running(queue), 0, QUEUE_SLICE - 1)
        if JobStatus.queued in statuses:
            batch("due", queue).zrangebyscore(queue, "-inf", now, start=0, num=QUEUE_SLICE)
        if JobStatus.deferred in statuses:
            batch("later", queue).zrangebyscore(queue, f"({now}", "+inf", start=0, num=QUEUE_SLICE)
    replies = await batch.execute()
    found: dict[str, tuple[str, JobStatus]] = {}
    for queue in queues:
        running = {member.decode() for member in replies["running", queue]}
        for name, status in (("due", JobStatus.queued), ("later", JobStatus.deferred)):
            for member in replies.get((name, queue), []):
                if (job_id := member.decode()) not in running:
                    found.setdefault(job_id, (queue, status))
        if JobStatus.in_progress in statuses:
            for job_id in running:
                found.setdefault(job_id, (queue, JobStatus.in_progress))
    found = {job_id: placed for job_id, placed in found.items() if not keys.is_cron(job_id)}
    heads_batch = Batch(redis)
    read_heads = ask_heads(heads_batch, list(found))
    heads = read_heads(await heads_batch.execute()) if found else {}
    return [
        Unfinished(job_id, heads[job_id].function if job_id in heads else None, queue, status)
        for job_id, (queue, status) in found.items()
    ]
