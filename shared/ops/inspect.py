"""Reading the queues for the ops views: a bounded number of Redis commands, whatever the queue size.

The summary is two pipelined round trips: the first counts (ZCOUNT) and takes bounded slices
(ZRANGEBYSCORE ... LIMIT, LRANGE 0 n) of every structure; the second reads only the few keys those
slices named. No KEYS, no SCAN, nothing proportional to the number of queued jobs, and only read
commands: looking never changes queue state.

A job definition may be megabytes (a bulk job's 100,000 items), so listings read only its first
and last bytes (GETRANGE): the JSON serializer writes {"t": try, "f": function, "a": ..., "k": ...,
"et": enqueued ms} in that order, so the function is at the head and the enqueue time at the tail.
"""

import json
import re
from datetime import UTC, datetime
from typing import Any

from arq.utils import timestamp_ms
from redis.asyncio import Redis

from shared.jobs import progress
from shared.ops import keys
from shared.ops.peek import JobHead, peek_head, peek_tail
from shared.ops.schemas import (
    AuditEntry,
    DurationBucket,
    FinishedJob,
    FunctionStats,
    JobDetail,
    JobErrorDetail,
    JobProgress,
    JobStatus,
    OpsSummary,
    QueuedJob,
    QueueStats,
    RunningJob,
    ThroughputPoint,
    Totals,
    WorkerHealth,
    WorkerState,
)

LIST_LIMIT = 20  # waiting / deferred jobs shown per queue
RUNNING_LIMIT = 100  # running jobs read per queue (workers x max_jobs stays far below)
RECENT_LIMIT = 50
AUDIT_LIMIT = 20
WORKER_LIMIT = 100
THROUGHPUT_MINUTES = 60
HEAD_BYTES = 256
TAIL_BYTES = 32
PREVIEW_CHARS = 4_000


def now_ms() -> int:
    # arq's own clock (it rounds): a job enqueued this millisecond is due, not deferred.
    return timestamp_ms()


def at(ms: float | int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, UTC) if ms else None


def _text(value: bytes | str | None) -> str | None:
    if value is None:
        return None
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def _decoded_hash(raw: dict[bytes, bytes]) -> dict[str, str]:
    return {k.decode(): v.decode(errors="replace") for k, v in raw.items()}


def _int(value: str | None, default: int = 0) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


async def read_summary(
    redis: Redis, *, queues: tuple[str, ...] = keys.QUEUES, now: int | None = None, recent_limit: int = RECENT_LIMIT
) -> OpsSummary:
    now = now or now_ms()
    first = await _first_round(redis, queues, now, recent_limit)
    second = await _second_round(redis, first)
    return _assemble(first, second, queues, now)


async def _first_round(redis: Redis, queues: tuple[str, ...], now: int, recent_limit: int) -> dict[str, Any]:
    minute_now = now // 60_000
    minutes = list(range(minute_now - THROUGHPUT_MINUTES + 1, minute_now + 1))
    async with redis.pipeline(transaction=False) as pipe:
        for queue in queues:
            pipe.zcount(queue, "-inf", now)
            pipe.zcount(queue, f"({now}", "+inf")
            pipe.zrange(keys.running(queue), 0, RUNNING_LIMIT - 1, withscores=True)
            # Running jobs keep their (old) score in the queue: read past them to find the waiting ones.
            pipe.zrangebyscore(queue, "-inf", now, start=0, num=LIST_LIMIT + RUNNING_LIMIT, withscores=True)
            pipe.zrangebyscore(queue, f"({now}", "+inf", start=0, num=LIST_LIMIT, withscores=True)
        pipe.lrange(keys.RECENT, 0, recent_limit - 1)
        pipe.lrange(keys.RECENT_FAILED, 0, recent_limit - 1)
        pipe.smembers(keys.FUNCTIONS)
        pipe.zrevrange(keys.WORKERS, 0, WORKER_LIMIT - 1)
        for minute in minutes:
            pipe.hgetall(keys.throughput(minute))
        pipe.lrange(keys.AUDIT, 0, AUDIT_LIMIT - 1)
        replies = await pipe.execute()

    per_queue: dict[str, dict[str, Any]] = {}
    position = 0
    for queue in queues:
        ready_all, deferred, running, due, later = replies[position : position + 5]
        position += 5
        running_ids = {job_id.decode(): score for job_id, score in running}
        waiting = [(job_id.decode(), score) for job_id, score in due if job_id.decode() not in running_ids]
        per_queue[queue] = {
            "ready_all": ready_all,
            "deferred": deferred,
            "running": running_ids,
            "waiting": waiting[:LIST_LIMIT],
            "later": [(job_id.decode(), score) for job_id, score in later],
        }
    recent, failed, functions, workers = replies[position : position + 4]
    position += 4
    throughput = list(zip(minutes, replies[position : position + len(minutes)], strict=True))
    audit = replies[position + len(minutes)]
    return {
        "queues": per_queue,
        "recent": [json.loads(item) for item in recent],
        "failed": [json.loads(item) for item in failed],
        "functions": sorted(name.decode() for name in functions),
        "workers": [name.decode() for name in workers],
        "throughput": throughput,
        "audit": [json.loads(item) for item in audit],
    }


async def _second_round(redis: Redis, first: dict[str, Any]) -> dict[str, Any]:
    """Only the keys the first round named: job heads and tails, running records, stats, workers."""
    listed: list[str] = []
    running: list[str] = []
    for queue_data in first["queues"].values():
        listed += [job_id for job_id, _ in queue_data["waiting"] + queue_data["later"]]
        running += list(queue_data["running"])
    async with redis.pipeline(transaction=False) as pipe:
        for job_id in listed + running:
            pipe.getrange(keys.job(job_id), 0, HEAD_BYTES - 1)
            pipe.getrange(keys.job(job_id), -TAIL_BYTES, -1)
        for job_id in running:
            pipe.exists(keys.in_progress(job_id))
            pipe.hgetall(progress.key(job_id))
        for function in first["functions"]:
            pipe.hgetall(keys.stats(function))
        for name in first["workers"]:
            pipe.hgetall(keys.worker(name))
        for entry in first["failed"]:
            pipe.hget(progress.key(entry["id"]), "retried_as")
        replies = await pipe.execute()

    heads: dict[str, JobHead] = {}
    position = 0
    for job_id in listed + running:
        head = peek_head(replies[position])
        head.enqueued_ms = peek_tail(replies[position + 1])
        heads[job_id] = head
        position += 2
    running_records: dict[str, dict[str, str] | None] = {}
    for job_id in running:
        held, record = replies[position], replies[position + 1]
        running_records[job_id] = _decoded_hash(record) if held else None
        position += 2
    stats = {function: _decoded_hash(replies[position + i]) for i, function in enumerate(first["functions"])}
    position += len(first["functions"])
    workers = {name: _decoded_hash(replies[position + i]) for i, name in enumerate(first["workers"])}
    position += len(first["workers"])
    retried_as = {entry["id"]: _text(replies[position + i]) for i, entry in enumerate(first["failed"])}
    return {"heads": heads, "running": running_records, "stats": stats, "workers": workers, "retried_as": retried_as}


def _queued(job_id: str, score: float, queue: str, heads: dict[str, JobHead]) -> QueuedJob:
    head = heads.get(job_id) or JobHead()
    return QueuedJob(
        id=job_id,
        function=head.function,
        queue=queue,
        run_at=at(score) or datetime.fromtimestamp(0, UTC),
        enqueued_at=at(head.enqueued_ms),
        tries=head.tries,
    )


def _assemble(first: dict[str, Any], second: dict[str, Any], queues: tuple[str, ...], now: int) -> OpsSummary:
    heads = second["heads"]
    queue_stats: list[QueueStats] = []
    running_jobs: list[RunningJob] = []
    for queue in queues:
        data = first["queues"][queue]
        alive = {
            job_id: started for job_id, started in data["running"].items() if second["running"][job_id] is not None
        }
        for job_id, started in alive.items():
            running_jobs.append(_running(job_id, started, queue, heads, second["running"][job_id] or {}, now))
        oldest = data["waiting"][0][1] if data["waiting"] else None
        queue_stats.append(
            QueueStats(
                queue=queue,
                ready=max(0, data["ready_all"] - len(alive)),
                deferred=data["deferred"],
                running=len(alive),
                oldest_ready_age_seconds=max(0.0, (now - oldest) / 1000) if oldest is not None else None,
                waiting=[_queued(job_id, score, queue, heads) for job_id, score in data["waiting"]],
                next_deferred=[_queued(job_id, score, queue, heads) for job_id, score in data["later"]],
            )
        )
    throughput = [
        ThroughputPoint(
            minute=at(minute * 60_000) or datetime.fromtimestamp(0, UTC),
            **{
                field: _int(_decoded_hash(raw).get(field))
                for field in ("complete", "failed", "retried", keys.SWEEPS, keys.SWEEPS_FAILED)
            },
        )
        for minute, raw in first["throughput"]
    ]
    workers = [_worker(name, second["workers"][name], now) for name in first["workers"] if second["workers"][name]]
    ages = [q.oldest_ready_age_seconds for q in queue_stats if q.oldest_ready_age_seconds is not None]
    totals = Totals(
        ready=sum(q.ready for q in queue_stats),
        deferred=sum(q.deferred for q in queue_stats),
        running=sum(q.running for q in queue_stats),
        oldest_ready_age_seconds=max(ages) if ages else None,
        complete_last_hour=sum(p.complete for p in throughput),
        failed_last_hour=sum(p.failed for p in throughput),
        retried_last_hour=sum(p.retried for p in throughput),
        sweeps_last_hour=sum(p.sweeps for p in throughput),
        sweeps_failed_last_hour=sum(p.sweeps_failed for p in throughput),
        workers_running=sum(w.state == WorkerState.running for w in workers),
        workers_down=sum(w.state == WorkerState.down for w in workers),
        workers_stalled=sum(w.state == WorkerState.stalled for w in workers),
    )
    return OpsSummary(
        generated_at=at(now) or datetime.now(UTC),
        totals=totals,
        queues=queue_stats,
        running=running_jobs,
        recent=[finished_job(entry) for entry in first["recent"]],
        failed=[finished_job(entry, second["retried_as"].get(entry["id"])) for entry in first["failed"]],
        functions=[function_stats(name, second["stats"][name]) for name in first["functions"]],
        workers=workers,
        throughput=throughput,
        audit=[audit_entry(entry) for entry in first["audit"]],
    )


def _running(
    job_id: str, started: float, queue: str, heads: dict[str, JobHead], record: dict[str, str], now: int
) -> RunningJob:
    head = heads.get(job_id) or JobHead()
    function = head.function or (job_id.split(":")[1] if job_id.startswith("cron:") else None)
    done, total = record.get("done"), record.get("total")
    return RunningJob(
        id=job_id,
        function=function,
        queue=queue,
        started_at=at(started) or datetime.now(UTC),
        running_seconds=max(0.0, (now - started) / 1000),
        tries=_int(record["try"]) if "try" in record else head.tries,
        worker=record.get("worker"),
        progress=JobProgress(done=_int(done), total=_int(total)) if done is not None and total is not None else None,
    )


def _worker(name: str, raw: dict[str, str], now: int) -> WorkerHealth:
    heartbeat = _int(raw.get("heartbeat_ms"))
    interval = _int(raw.get("interval_ms"), int(keys.HEARTBEAT_SECONDS * 1000))
    state = WorkerState.stopped if raw.get("state") == "stopped" else WorkerState.running
    faulting_since = _int(raw.get("faulting_since_ms"))
    if state == WorkerState.running and now - heartbeat > keys.STALE_AFTER_HEARTBEATS * interval:
        state = WorkerState.down
    elif state == WorkerState.running and faulting_since and now - faulting_since > interval:
        state = WorkerState.stalled
    return WorkerHealth(
        name=name,
        queue=raw.get("queue"),
        host=raw.get("host"),
        pid=_int(raw.get("pid")) or None,
        state=state,
        started_at=at(_int(raw.get("started_ms"))),
        heartbeat_age_seconds=max(0.0, (now - heartbeat) / 1000) if heartbeat else None,
        complete=_int(raw.get("complete")),
        failed=_int(raw.get("failed")),
        retried=_int(raw.get("retried")),
        sweeps=_int(raw.get(keys.SWEEPS)),
        ongoing=_int(raw.get("ongoing")),
    )


def finished_job(entry: dict[str, Any], retried_as: str | None = None) -> FinishedJob:
    return FinishedJob(
        id=entry["id"],
        function=entry.get("function"),
        queue=entry.get("queue"),
        status=entry.get("status", "complete"),
        tries=entry.get("try"),
        enqueued_at=at(entry.get("enqueued_ms")),
        started_at=at(entry.get("started_ms")),
        finished_at=at(entry.get("finished_ms")),
        duration_ms=entry.get("duration_ms"),
        worker=entry.get("worker"),
        error_type=entry.get("error_type"),
        error_message=entry.get("error_message"),
        retried_as=retried_as,
    )


def function_stats(function: str, raw: dict[str, str]) -> FunctionStats:
    buckets: list[DurationBucket] = []
    cumulative = 0
    for upper in (*keys.DURATION_BUCKETS_MS, None):
        cumulative += _int(raw.get(keys.bucket_field(upper)))
        buckets.append(DurationBucket(le_ms=upper, count=cumulative))
    count, total = _int(raw.get("duration_count")), _int(raw.get("duration_ms_sum"))
    return FunctionStats(
        function=function,
        queue=raw.get("queue"),
        complete=_int(raw.get("complete")),
        failed=_int(raw.get("failed")),
        retried=_int(raw.get("retried")),
        duration_count=count,
        duration_ms_sum=total,
        mean_ms=total / count if count else None,
        buckets=buckets,
    )


def audit_entry(entry: dict[str, Any]) -> AuditEntry:
    return AuditEntry(
        at=at(entry.get("at_ms")) or datetime.fromtimestamp(0, UTC),
        user=entry.get("user", "?"),
        user_id=entry.get("user_id"),
        action=entry.get("action", "?"),
        job_id=entry.get("job_id"),
        detail=entry.get("detail") or {},
    )


def _preview(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= PREVIEW_CHARS else text[:PREVIEW_CHARS] + "…"


async def read_job_detail(redis: Redis, job_id: str, *, queues: tuple[str, ...] = keys.QUEUES) -> JobDetail | None:
    """One job, wherever it is: finished (arq's result, or our record once that expired), running,
    queued or deferred. None if Redis knows nothing of it."""
    now = now_ms()
    async with redis.pipeline(transaction=False) as pipe:
        pipe.get(keys.result(job_id))
        pipe.getrange(keys.job(job_id), 0, PREVIEW_CHARS)
        pipe.getrange(keys.job(job_id), -TAIL_BYTES, -1)
        pipe.exists(keys.in_progress(job_id))
        pipe.get(keys.retry(job_id))
        pipe.hgetall(progress.key(job_id))
        pipe.zscore(keys.ABORT_SET, job_id)
        for queue in queues:
            pipe.zscore(queue, job_id)
        raw_result, head_bytes, tail_bytes, held, retry, raw_record, abort, *scores = await pipe.execute()
    record = _decoded_hash(raw_record)
    common: dict[str, Any] = {
        "id": job_id,
        "worker": record.get("worker"),
        "retried_as": record.get("retried_as"),
        "retry_of": record.get("retry_of"),
        "abort_requested": abort is not None,
    }
    if raw_result is not None:
        return _finished_detail(json.loads(raw_result), record, common)
    queue, score = next(((q, s) for q, s in zip(queues, scores, strict=True) if s is not None), (None, None))
    if queue is not None and score is not None:
        return _pending_detail(head_bytes, tail_bytes, queue, score, held, retry, record, common, now)
    if "error_type" in record:  # arq's result expired or was purged; our failure record remains
        return JobDetail(
            status=JobStatus.failed,
            function=None,
            queue=None,
            tries=_int(record.get("try")) or None,
            started_at=at(_int(record.get("started_ms"))),
            error=_error_from_record(record),
            **common,
        )
    return None


def _error_from_record(record: dict[str, str]) -> JobErrorDetail:
    return JobErrorDetail(
        type=record.get("error_type", "Error"),
        message=record.get("error_message", ""),
        traceback=record.get("traceback", ""),
    )


def _finished_detail(data: dict[str, Any], record: dict[str, str], common: dict[str, Any]) -> JobDetail:
    success = bool(data.get("s"))
    error: JobErrorDetail | None = None
    if not success:
        raw_error = data.get("r")
        if isinstance(raw_error, dict) and "__error__" in raw_error:
            details = raw_error["__error__"]
            error = JobErrorDetail(
                type=str(details.get("type", "Error")),
                message=str(details.get("message", "")),
                traceback=str(details.get("traceback", "")),
            )
        else:
            error = JobErrorDetail(type="Error", message=str(raw_error), traceback=record.get("traceback", ""))
    started, finished = data.get("st"), data.get("ft")
    done, total = record.get("done"), record.get("total")
    return JobDetail(
        status=JobStatus.complete if success else JobStatus.failed,
        function=data.get("f"),
        queue=data.get("q"),
        tries=data.get("t"),
        enqueued_at=at(data.get("et")),
        started_at=at(started),
        finished_at=at(finished),
        duration_ms=finished - started if started and finished else None,
        progress=JobProgress(done=_int(done), total=_int(total)) if done is not None and total is not None else None,
        args_preview=_preview({"args": data.get("a", []), "kwargs": data.get("k", {})}),
        result_preview=_preview(data.get("r")) if success else None,
        error=error,
        **common,
    )


def _pending_detail(
    head_bytes: bytes,
    tail_bytes: bytes,
    queue: str,
    score: float,
    held: int,
    retry: bytes | None,
    record: dict[str, str],
    common: dict[str, Any],
    now: int,
) -> JobDetail:
    head = peek_head(head_bytes)
    status = JobStatus.in_progress if held else JobStatus.deferred if score > now else JobStatus.queued
    done, total = record.get("done"), record.get("total")
    text = head_bytes.decode(errors="replace")
    return JobDetail(
        status=status,
        function=head.function,
        queue=queue,
        tries=_int(_text(retry)) if retry is not None else head.tries,
        enqueued_at=at(peek_tail(tail_bytes)),
        run_at=at(score),
        started_at=at(_int(record.get("started_ms"))) if status == JobStatus.in_progress else None,
        progress=JobProgress(done=_int(done), total=_int(total))
        if status == JobStatus.in_progress and done is not None and total is not None
        else None,
        args_preview=_args_text(text),
        **common,
    )


_ARGS_START = re.compile(r'"a":')


def _args_text(text: str) -> str | None:
    """The JSON from the arguments on (as far as was read), for a glance at a queued job's input."""
    match = _ARGS_START.search(text)
    if match is None:
        return None
    rest = text[match.start() :]
    return rest if len(rest) < PREVIEW_CHARS else rest[:PREVIEW_CHARS] + "…"


async def local_worker_is_up(redis: Redis, queue: str, host: str) -> bool:
    """Whether a worker of `queue` on `host` has a fresh heartbeat (a container's health check)."""
    names = [name.decode() for name in await redis.zrevrange(keys.WORKERS, 0, WORKER_LIMIT - 1)]
    mine = [name for name in names if name.rpartition(":")[0] == host]
    if not mine:
        return False
    async with redis.pipeline(transaction=False) as pipe:
        for name in mine:
            pipe.hgetall(keys.worker(name))
        entries = await pipe.execute()
    now = timestamp_ms()
    return any(
        health.queue == queue and health.state == WorkerState.running
        for health in (_worker(name, _decoded_hash(raw), now) for name, raw in zip(mine, entries, strict=True) if raw)
    )
