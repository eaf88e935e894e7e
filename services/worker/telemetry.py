"""What each worker process tells the ops views, written beside arq's keys (layout: shared/ops/keys.py).

arq keeps one health key per queue, shared (and overwritten) by every worker of it, and no
per-function counts, durations or history. These hooks add, per worker process:
- its own health entry, refreshed every few seconds by a background task (stale = down);
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
still queued means it will be retried. Telemetry never fails a job: Redis errors here are logged.
"""

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from shared.jobs import progress
from shared.jobs.serialization import ERROR_MARKER
from shared.ops import keys

logger = logging.getLogger(__name__)

Ctx = dict[str, Any]
TELEMETRY = "telemetry"
STARTED_MS = "telemetry_started_ms"
CRON_PREFIX = "cron:"


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class WorkerTelemetry:
    name: str
    queue: str
    started_ms: int = field(default_factory=now_ms)
    complete: int = 0
    failed: int = 0
    retried: int = 0
    sweeps: int = 0  # cron runs ended, whatever their outcome (kept out of the three above)
    running: set[str] = field(default_factory=set)
    heartbeat_seconds: float = keys.HEARTBEAT_SECONDS
    task: asyncio.Task[None] | None = None
    # Since when the worker's poll loop has been failing on Redis faults (services.worker.resilient);
    # 0 while it completes.
    faulting_since_ms: int = 0

    def health(self, state: str) -> dict[str, str | int]:
        host, _, pid = self.name.rpartition(":")
        return {
            "name": self.name,
            "queue": self.queue,
            "host": host,
            "pid": pid,
            "state": state,
            "started_ms": self.started_ms,
            "heartbeat_ms": now_ms(),
            "interval_ms": int(self.heartbeat_seconds * 1000),
            "complete": self.complete,
            "failed": self.failed,
            "retried": self.retried,
            "sweeps": self.sweeps,
            "ongoing": len(self.running),
            "faulting_since_ms": self.faulting_since_ms,
        }


def default_worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


async def start(
    ctx: Ctx, queue: str, *, name: str | None = None, heartbeat_seconds: float = keys.HEARTBEAT_SECONDS
) -> WorkerTelemetry:
    """Register this worker and start its heartbeat (call from the worker's on_startup)."""
    telemetry = WorkerTelemetry(name=name or default_worker_name(), queue=queue, heartbeat_seconds=heartbeat_seconds)
    ctx[TELEMETRY] = telemetry
    await heartbeat(ctx["redis"], telemetry)
    telemetry.task = asyncio.create_task(_beat_forever(ctx["redis"], telemetry), name=f"heartbeat {telemetry.name}")
    return telemetry


async def stop(ctx: Ctx) -> None:
    """Stop the heartbeat and mark this worker stopped (it stays listed, as stopped, for a while)."""
    telemetry: WorkerTelemetry | None = ctx.get(TELEMETRY)
    if telemetry is None:
        return
    if telemetry.task is not None:
        telemetry.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await telemetry.task
    with _logged("worker stop"):
        await heartbeat(ctx["redis"], telemetry, state="stopped")


async def heartbeat(redis: Redis, telemetry: WorkerTelemetry, *, state: str = "running") -> None:
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


async def _beat_forever(redis: Redis, telemetry: WorkerTelemetry) -> None:
    while True:
        await asyncio.sleep(telemetry.heartbeat_seconds)
        with _logged("heartbeat"):
            await heartbeat(redis, telemetry)


@contextlib.contextmanager
def _logged(what: str):  # type: ignore[no-untyped-def]
    """Telemetry is best effort: a Redis hiccup here must never fail or stop a job."""
    try:
        yield
    except Exception:
        logger.warning("ops telemetry: %s failed", what, exc_info=True)


async def job_started(ctx: Ctx) -> None:
    telemetry: WorkerTelemetry | None = ctx.get(TELEMETRY)
    if telemetry is None:
        return
    started = now_ms()
    ctx[STARTED_MS] = started
    telemetry.running.add(ctx["job_id"])
    with _logged("job start"):
        await ctx["redis"].zadd(keys.running(telemetry.queue), {ctx["job_id"]: started})


async def job_ended(ctx: Ctx) -> None:
    telemetry: WorkerTelemetry | None = ctx.get(TELEMETRY)
    if telemetry is None:
        return
    job_id: str = ctx["job_id"]
    telemetry.running.discard(job_id)
    with _logged("job end"):
        await record_outcome(ctx["redis"], telemetry, job_id, job_try=ctx["job_try"], started_ms=ctx.get(STARTED_MS))


async def record_outcome(
    redis: Redis, telemetry: WorkerTelemetry, job_id: str, *, job_try: int, started_ms: int | None
) -> None:
    async with redis.pipeline(transaction=False) as pipe:
        pipe.get(keys.result(job_id))
        pipe.get(keys.job(job_id))
        pipe.zscore(telemetry.queue, job_id)
        raw_result, raw_job, score = await pipe.execute()
    ended = now_ms()
    if raw_result is not None:
        data = json.loads(raw_result)
        outcome = "complete" if data.get("s") else "failed"
        function = data.get("f", "?")
        duration = max(0, int(data.get("ft", ended)) - int(data.get("st", started_ms or ended)))
        entry = _finished_entry(job_id, data, outcome, duration, telemetry)
    elif score is not None:
        outcome = "retried"
        function = json.loads(raw_job).get("f", "?") if raw_job else _function_of_cron(job_id)
        duration = ended - (started_ms or ended)
        entry = None
    else:  # finished without a kept result (keep_result=0): counted as complete, not listed
        outcome, function, duration, entry = "complete", _function_of_cron(job_id), ended - (started_ms or ended), None
    sweep = job_id.startswith(CRON_PREFIX)
    if sweep:
        telemetry.sweeps += 1
        worker_counts = {keys.SWEEPS: telemetry.sweeps}
    else:
        setattr(telemetry, outcome, getattr(telemetry, outcome) + 1)
        worker_counts = {outcome: getattr(telemetry, outcome)}

    minute = ended // 60_000
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zrem(keys.running(telemetry.queue), job_id)
        pipe.sadd(keys.FUNCTIONS, function)
        pipe.hset(keys.stats(function), "queue", telemetry.queue)
        pipe.hincrby(keys.stats(function), outcome, 1)
        if outcome != "retried":
            pipe.hincrby(keys.stats(function), "duration_ms_sum", duration)
            pipe.hincrby(keys.stats(function), "duration_count", 1)
            pipe.hincrby(keys.stats(function), keys.bucket_for(duration), 1)
        if sweep:
            pipe.hincrby(keys.throughput(minute), keys.SWEEPS, 1)
            if outcome == "failed":
                pipe.hincrby(keys.throughput(minute), keys.SWEEPS_FAILED, 1)
        else:
            pipe.hincrby(keys.throughput(minute), outcome, 1)
        pipe.expire(keys.throughput(minute), keys.THROUGHPUT_TTL_SECONDS)
        pipe.hset(keys.worker(telemetry.name), mapping=worker_counts)
        if entry is not None and not sweep:
            error = entry.pop("error", None)
            pipe.lpush(keys.RECENT, json.dumps(entry))
            pipe.ltrim(keys.RECENT, 0, keys.RECENT_CAP - 1)
            if error is not None:
                pipe.lpush(keys.RECENT_FAILED, json.dumps(entry))
                pipe.ltrim(keys.RECENT_FAILED, 0, keys.RECENT_FAILED_CAP - 1)
                # The traceback outlives arq's result key here (the job record lives a day).
                pipe.hset(progress.key(job_id), mapping=error)
                pipe.expire(progress.key(job_id), progress.JOB_KEY_TTL_SECONDS)
        await pipe.execute()


def _function_of_cron(job_id: str) -> str:
    # Cron job ids are "cron:<function>:<ms>"; other ids say nothing of their function.
    parts = job_id.split(":")
    return parts[1] if job_id.startswith(CRON_PREFIX) and len(parts) > 2 else "?"


def _finished_entry(
    job_id: str, data: dict[str, Any], outcome: str, duration: int, telemetry: WorkerTelemetry
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": job_id,
        "function": data.get("f"),
        "queue": data.get("q", telemetry.queue),
        "status": outcome,
        "try": data.get("t"),
        "enqueued_ms": data.get("et"),
        "started_ms": data.get("st"),
        "finished_ms": data.get("ft"),
        "duration_ms": duration,
        "worker": telemetry.name,
    }
    if outcome == "failed":
        error = data.get("r")
        details = error[ERROR_MARKER] if isinstance(error, dict) and ERROR_MARKER in error else {"message": error}
        entry["error_type"] = str(details.get("type") or "Error")
        entry["error_message"] = str(details.get("message") or "")[: keys.MESSAGE_CAP_CHARS]
        entry["error"] = {
            "error_type": entry["error_type"],
            "error_message": entry["error_message"],
            "traceback": str(details.get("traceback") or "")[-keys.TRACEBACK_CAP_CHARS :],
        }
    return entry
