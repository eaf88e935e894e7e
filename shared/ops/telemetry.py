"""What a worker process writes for the ops views, beside arq's keys (layout: shared/ops/keys.py).

The writing half of the key protocol; its readers are the other modules of shared/ops, on the same
key builders and field names. The worker's arq hooks (services/worker/telemetry.py) call it.

arq keeps one health key per queue, shared (and overwritten) by every worker of it, and no
per-function counts, durations or history. A worker adds here:
- its own health entry, refreshed every few seconds (stale = down);
- the set of jobs it is running (with their start time);
- per function: completed / failed / retried counts and a duration histogram;
- per minute: ended tries by outcome (the dashboard's last-hour chart);
- cron runs (the sweepers, every few seconds) apart from the work: in the per-minute and per-worker
  counts they are `sweeps` (and `sweeps_failed`), never complete / failed / retried, so an idle
  worker's sweeps neither fill the chart nor raise its "done" count (issue #19). Per function they
  keep their own stats like any function;
- capped lists of recently finished and failed jobs (failed ones with their traceback, which
  outlives arq's result key).

The outcome of a try is read back from what arq itself wrote (after_job_end runs once arq has
stored the result): a result key means finished (its "s" says how), no result while the job is
still queued means it will be retried.
"""

import asyncio
import json
import os
import socket
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from shared.jobs import progress
from shared.jobs.serialization import ERROR_MARKER
from shared.ops import crons, keys
from shared.ops.batch import Batch, Replies
from shared.ops.clock import now_ms
from shared.ops.keys import FinishedEntry, Outcome, RecordField, StatsField, WorkerField
from shared.ops.recorder import args_preview

# Names this process in job records and its own health entry (guildhall:worker:<name>).
WORKER_NAME = keys.worker_name(socket.gethostname(), os.getpid())

RUNNING = "running"  # WorkerField.state of a live worker (keys.STOPPED once it shut down)


@dataclass
class WorkerTelemetry:
    """One worker process's counts, as its health entry shows them."""

    name: str
    queue: str
    started_ms: int = field(default_factory=now_ms)
    complete: int = 0
    failed: int = 0
    retried: int = 0
    sweeps: int = 0  # cron runs ended, whatever their outcome (kept out of the three above)
    running: set[str] = field(default_factory=set)
    heartbeat_seconds: float = keys.HEARTBEAT_SECONDS
    task: asyncio.Task[None] | None = None  # the heartbeat (services/worker/telemetry.py), while it runs
    # Since when the worker's poll loop has been failing on Redis faults (services.worker.resilient);
    # 0 while it completes.
    faulting_since_ms: int = 0

    def health(self, state: str) -> dict[str, str | int]:
        return {
            WorkerField.name: self.name,
            WorkerField.queue: self.queue,
            WorkerField.host: keys.host_of(self.name),
            WorkerField.pid: self.name.rpartition(":")[2],
            WorkerField.state: state,
            WorkerField.started_ms: self.started_ms,
            WorkerField.heartbeat_ms: now_ms(),
            WorkerField.interval_ms: int(self.heartbeat_seconds * 1000),
            Outcome.complete: self.complete,
            Outcome.failed: self.failed,
            Outcome.retried: self.retried,
            keys.SWEEPS: self.sweeps,
            WorkerField.ongoing: len(self.running),
            WorkerField.faulting_since_ms: self.faulting_since_ms,
        }

    def count(self, job_id: str, outcome: Outcome) -> dict[str, int]:
        """Count one ended try; the worker hash's fields that changed."""
        if keys.is_cron(job_id):
            self.sweeps += 1
            return {keys.SWEEPS: self.sweeps}
        setattr(self, outcome, getattr(self, outcome) + 1)
        return {outcome: getattr(self, outcome)}


async def heartbeat(redis: Redis, telemetry: WorkerTelemetry, *, state: str = RUNNING) -> None:
    """Refresh the worker's health entry and registry score, and drop the running entries of its
    queue whose worker died mid-job."""
    now = now_ms()
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hset(keys.worker(telemetry.name), mapping=telemetry.health(state))
        pipe.expire(keys.worker(telemetry.name), keys.WORKER_TTL_SECONDS)
        pipe.zadd(keys.WORKERS, {telemetry.name: now})
        pipe.zremrangebyscore(keys.WORKERS, "-inf", now - keys.WORKER_REGISTRY_MAX_AGE_MS)
        pipe.zrange(keys.running(telemetry.queue), 0, -1)
        *_, running_ids = await pipe.execute()
    await _forget_crashed_runs(redis, telemetry.queue, [job_id.decode() for job_id in running_ids])


async def _forget_crashed_runs(redis: Redis, queue: str, job_ids: list[str]) -> None:
    """Drop running entries whose arq in-progress key is gone (their worker died mid-job)."""
    if not job_ids:
        return
    async with redis.pipeline(transaction=False) as pipe:
        for job_id in job_ids:
            pipe.exists(keys.in_progress(job_id))
        held = await pipe.execute()
    gone = [job_id for job_id, exists in zip(job_ids, held, strict=True) if not exists]
    if gone:
        await redis.zrem(keys.running(queue), *gone)


async def record_start(redis: Redis, telemetry: WorkerTelemetry, job_id: str, started_ms: int) -> None:
    telemetry.running.add(job_id)
    await redis.zadd(keys.running(telemetry.queue), {job_id: started_ms})


@dataclass
class EndedTry:
    """How a try ended, as record_outcome read it (the job history records it: shared.ops.recorder)."""

    outcome: Outcome
    function: str
    ended_ms: int
    duration_ms: int
    entry: FinishedEntry | None  # listed in the recent lists (a finished job with a kept result)
    error: dict[str, str] | None = None  # kept in the job's record (a failure's details)
    started_ms: int | None = None
    enqueued_ms: int | None = None
    args_preview: str | None = None  # bounded, secret-looking keys hidden (shared.ops.recorder)


def _ended(job_id: str, telemetry: WorkerTelemetry, replies: Replies, started_ms: int | None) -> EndedTry:
    """How the try ended, from what arq wrote: its result, else whether the job is queued again."""
    queue, worker = telemetry.queue, telemetry.name
    raw_result, raw_job = replies["result"], replies["job"]
    ended = now_ms()
    if raw_result is not None:
        data = json.loads(raw_result)
        outcome = Outcome.complete if data.get("s") else Outcome.failed
        duration = max(0, int(data.get("ft", ended)) - int(data.get("st", started_ms or ended)))
        entry, error = _finished_entry(job_id, data, outcome, duration, queue, worker)
        started, enqueued = data.get("st", started_ms), data.get("et")
        shown = args_preview(data.get("a") or (), data.get("k") or {})
        return EndedTry(outcome, data.get("f", "?"), ended, duration, entry, error, started, enqueued, shown)
    if replies["score"] is not None:
        job = json.loads(raw_job) if raw_job else {}
        function = str(job.get("f") or keys.cron_function(job_id) or "?")
        queued = args_preview(job.get("a") or (), job.get("k") or {}) if job else None
        duration = ended - (started_ms or ended)
        return EndedTry(Outcome.retried, function, ended, duration, None, None, started_ms, job.get("et"), queued)
    # Finished without a kept result (keep_result=0): counted as complete, not listed.
    unkept = keys.cron_function(job_id) or "?"
    return EndedTry(Outcome.complete, unkept, ended, ended - (started_ms or ended), None, None, started_ms)


async def record_outcome(
    redis: Redis, telemetry: WorkerTelemetry, job_id: str, *, job_try: int, started_ms: int | None
) -> EndedTry:
    """Count a try that ended (once arq stored its outcome) in every view that shows it; how it ended."""
    telemetry.running.discard(job_id)
    batch = Batch(redis)
    batch("result").get(keys.result(job_id))
    batch("job").get(keys.job(job_id))
    batch("score").zscore(telemetry.queue, job_id)
    ended = _ended(job_id, telemetry, await batch.execute(), started_ms)
    worker_counts = telemetry.count(job_id, ended.outcome)
    sweep = keys.is_cron(job_id)
    stats, minute = keys.stats(ended.function), keys.throughput(ended.ended_ms // 60_000)
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zrem(keys.running(telemetry.queue), job_id)
        pipe.sadd(keys.FUNCTIONS, ended.function)
        pipe.hset(stats, StatsField.queue, telemetry.queue)
        pipe.hincrby(stats, ended.outcome, 1)
        if ended.outcome != Outcome.retried:
            pipe.hincrby(stats, StatsField.duration_ms_sum, ended.duration_ms)
            pipe.hincrby(stats, StatsField.duration_count, 1)
            pipe.hincrby(stats, keys.bucket_for(ended.duration_ms), 1)
        if sweep:
            pipe.hincrby(minute, keys.SWEEPS, 1)
            if ended.outcome == Outcome.failed:
                pipe.hincrby(minute, keys.SWEEPS_FAILED, 1)
            entry = ended.entry or {}
            crons.queue_last_run(
                pipe,
                job_id,
                ended.outcome,
                started_ms=entry.get("started_ms") or ended.ended_ms - ended.duration_ms,
                finished_ms=entry.get("finished_ms") or ended.ended_ms,
                worker=telemetry.name,
                error=ended.error,
            )
        else:
            pipe.hincrby(minute, ended.outcome, 1)
        pipe.expire(minute, keys.THROUGHPUT_TTL_SECONDS)
        pipe.hset(keys.worker(telemetry.name), mapping=worker_counts)
        if ended.entry is not None and not sweep:
            pipe.lpush(keys.RECENT, json.dumps(ended.entry))
            pipe.ltrim(keys.RECENT, 0, keys.RECENT_CAP - 1)
            if ended.error is not None:
                pipe.lpush(keys.RECENT_FAILED, json.dumps(ended.entry))
                pipe.ltrim(keys.RECENT_FAILED, 0, keys.RECENT_FAILED_CAP - 1)
                # The traceback outlives arq's result key here (the job record lives a day).
                pipe.hset(progress.key(job_id), mapping=ended.error)
                pipe.expire(progress.key(job_id), progress.JOB_KEY_TTL_SECONDS)
        await pipe.execute()
    return ended


def _finished_entry(
    job_id: str, data: dict[str, Any], outcome: Outcome, duration: int, queue: str, worker: str
) -> tuple[FinishedEntry, dict[str, str] | None]:
    """The recent lists' entry of a finished try, and a failure's details for the job's record."""
    entry: FinishedEntry = {
        "id": job_id,
        "function": data.get("f"),
        "queue": data.get("q", queue),
        "status": outcome,
        "try": data.get("t"),
        "enqueued_ms": data.get("et"),
        "started_ms": data.get("st"),
        "finished_ms": data.get("ft"),
        "duration_ms": duration,
        "worker": worker,
    }
    if outcome != Outcome.failed:
        return entry, None
    error = data.get("r")
    details = error[ERROR_MARKER] if isinstance(error, dict) and ERROR_MARKER in error else {"message": error}
    entry["error_type"] = str(details.get("type") or "Error")
    entry["error_message"] = str(details.get("message") or "")[: keys.MESSAGE_CAP_CHARS]
    return entry, {
        RecordField.error_type: entry["error_type"],
        RecordField.error_message: entry["error_message"],
        RecordField.traceback: str(details.get("traceback") or "")[-keys.TRACEBACK_CAP_CHARS :],
    }
