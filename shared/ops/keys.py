"""The Redis key layout of Guildhall's queues, for any client (redis-cli, Grafana, scripts).

Everything here is plain Redis types holding JSON or integers: no pickle anywhere.
docs/ops.md describes the same layout for readers outside Python.

arq's own keys (written by arq, one queue = one sorted set):
    <queue>                   ZSET   job id -> run-at epoch ms; a job stays in it while it runs
    arq:job:<id>              STRING JSON {"t": try, "f": function, "a": args, "k": kwargs, "et": enqueued ms}
    arq:in-progress:<id>      STRING "1" while a worker holds the job
    arq:retry:<id>            STRING try counter
    arq:result:<id>           STRING JSON {..., "s": success, "r": result or {"__error__": {type, message,
                                     traceback}}, "st": start ms, "ft": finish ms, "q": queue, "id": job id}
    arq:abort                 ZSET   job ids whose abort was asked for

Guildhall's keys (written by shared/ops/telemetry.py, which the worker's hooks call, and read by the
ops views: both sides take the key builders and field names below):
    guildhall:job:<id>                 HASH  started_ms, try, worker, done, total (progress.py); after a
                                             failure error_type, error_message, traceback; retried_as /
                                             retry_of once an admin retried it
    guildhall:running:<queue>          ZSET  job id -> start ms, while a worker of that queue runs it
    guildhall:workers                  ZSET  worker name -> last heartbeat ms (the worker registry)
    guildhall:worker:<name>            HASH  name, queue, host, pid, started_ms, heartbeat_ms, state,
                                             complete, failed, retried, sweeps, ongoing, interval_ms
    guildhall:functions                SET   function names that ever ran
    guildhall:stats:<function>         HASH  queue, complete, failed, retried, duration_ms_sum,
                                             duration_count, bucket:<le ms> (runs with le(previous) < ms <= le)
    guildhall:throughput:<epoch minute> HASH complete, failed, retried (ended tries in that minute; lives 2 h),
                                             sweeps, sweeps_failed (cron runs, counted there only)
    guildhall:recent                   LIST  JSON entries of finished jobs, newest first (capped)
    guildhall:recent:failed            LIST  the same for failed jobs (error type and message) (capped)
    guildhall:ops:audit                LIST  JSON entries of admin actions, newest first (capped)
    guildhall:paused:<queue>           STRING JSON {"at_ms", "user", "user_id"} while an admin has the queue
                                             paused (no expiry: a pause outlives worker restarts)
    guildhall:cron:<function>          HASH  a cron function's last run: job_id, outcome, started_ms,
                                             finished_ms, duration_ms, worker, error_type, error_message,
                                             last_complete_ms, last_failed_ms
"""

from enum import StrEnum
from typing import Any, TypedDict

from shared.jobs.queues import Queue

JOB_PREFIX = "arq:job:"
RESULT_PREFIX = "arq:result:"
IN_PROGRESS_PREFIX = "arq:in-progress:"
RETRY_PREFIX = "arq:retry:"
ABORT_SET = "arq:abort"

WORKERS = "guildhall:workers"
FUNCTIONS = "guildhall:functions"
RECENT = "guildhall:recent"
RECENT_FAILED = "guildhall:recent:failed"
AUDIT = "guildhall:ops:audit"

RECENT_CAP = 500
RECENT_FAILED_CAP = 200
AUDIT_CAP = 1000
TRACEBACK_CAP_CHARS = 16_000
MESSAGE_CAP_CHARS = 2_000


class Outcome(StrEnum):
    """How a try ended: a field of the stats, throughput and worker hashes, a recent entry's status."""

    complete = "complete"
    failed = "failed"
    retried = "retried"


# Cron runs (job ids "cron:<name>:<ms>") are counted under these fields of the throughput and worker
# hashes instead of complete / failed / retried: sweeps are routine, not work done.
SWEEPS = "sweeps"
SWEEPS_FAILED = "sweeps_failed"
THROUGHPUT_FIELDS: tuple[str, ...] = (*Outcome, SWEEPS, SWEEPS_FAILED)


class WorkerField(StrEnum):
    """The fields of guildhall:worker:<name> (besides the outcome counts and SWEEPS)."""

    name = "name"
    queue = "queue"
    host = "host"
    pid = "pid"
    state = "state"
    started_ms = "started_ms"
    heartbeat_ms = "heartbeat_ms"
    interval_ms = "interval_ms"
    ongoing = "ongoing"
    faulting_since_ms = "faulting_since_ms"


STOPPED = "stopped"  # WorkerField.state of a worker that shut down (any other value: it claims to run)


class StatsField(StrEnum):
    """The fields of guildhall:stats:<function> (besides the outcome counts and the buckets)."""

    queue = "queue"
    duration_ms_sum = "duration_ms_sum"
    duration_count = "duration_count"


class RecordField(StrEnum):
    """The fields of a job's record (guildhall:job:<id>) the ops views read: the first three as
    shared.jobs.progress.started writes them, the others as the ops side adds them."""

    started_ms = "started_ms"
    try_ = "try"
    worker = "worker"
    error_type = "error_type"
    error_message = "error_message"
    traceback = "traceback"
    retried_as = "retried_as"
    retry_of = "retry_of"


# An entry of guildhall:recent and guildhall:recent:failed (JSON), as the worker writes it.
FinishedEntry = TypedDict(
    "FinishedEntry",
    {
        "id": str,
        "function": str | None,
        "queue": str | None,
        "status": str,
        "try": int | None,
        "enqueued_ms": int | None,
        "started_ms": int | None,
        "finished_ms": int | None,
        "duration_ms": int | None,
        "worker": str | None,
        "error_type": str,
        "error_message": str,
    },
    total=False,
)


class AuditRecord(TypedDict):
    """An entry of guildhall:ops:audit (JSON)."""

    at_ms: int
    user: str
    user_id: int | None
    action: str
    job_id: str | None
    detail: dict[str, Any]


THROUGHPUT_TTL_SECONDS = 2 * 3600
WORKER_TTL_SECONDS = 3600  # a worker that stopped heartbeating shows as down for this long, then vanishes
WORKER_REGISTRY_MAX_AGE_MS = 24 * 3600 * 1000
HEARTBEAT_SECONDS = 5.0
STALE_AFTER_HEARTBEATS = 3  # a heartbeat older than 3 intervals means the worker is down

# Upper bounds (ms) of the duration histogram's buckets; a run lands in the first bucket >= its duration.
DURATION_BUCKETS_MS: tuple[int, ...] = (
    5,
    10,
    25,
    50,
    100,
    250,
    500,
    1_000,
    2_500,
    5_000,
    10_000,
    30_000,
    60_000,
    300_000,
    600_000,
)
INF_BUCKET = "inf"


def job(job_id: str) -> str:
    return f"{JOB_PREFIX}{job_id}"


def result(job_id: str) -> str:
    return f"{RESULT_PREFIX}{job_id}"


def in_progress(job_id: str) -> str:
    return f"{IN_PROGRESS_PREFIX}{job_id}"


def retry(job_id: str) -> str:
    return f"{RETRY_PREFIX}{job_id}"


# arq names a unique cron job's runs "cron:<function>:<run-at ms>"; other job ids say nothing of
# their function.
CRON_PREFIX = "cron:"


def is_cron(job_id: str) -> bool:
    return job_id.startswith(CRON_PREFIX)


def cron_function(job_id: str) -> str | None:
    parts = job_id.split(":")
    return parts[1] if is_cron(job_id) and len(parts) > 2 else None


def worker_name(host: str, pid: int) -> str:
    """A worker process's name, in the registry and its health entry: "<host>:<pid>"."""
    return f"{host}:{pid}"


def host_of(name: str) -> str:
    return name.rpartition(":")[0]


def paused(queue: str) -> str:
    return f"guildhall:paused:{queue}"


def cron_run(function: str) -> str:
    """A cron function's last run (`function` without arq's "cron:" prefix, as in its job ids)."""
    return f"guildhall:cron:{function}"


def running(queue: str) -> str:
    return f"guildhall:running:{queue}"


def worker(name: str) -> str:
    return f"guildhall:worker:{name}"


def stats(function: str) -> str:
    return f"guildhall:stats:{function}"


def throughput(epoch_minute: int) -> str:
    return f"guildhall:throughput:{epoch_minute}"


def bucket_field(upper_ms: int | None) -> str:
    return f"bucket:{INF_BUCKET if upper_ms is None else upper_ms}"


def bucket_for(duration_ms: int) -> str:
    for upper in DURATION_BUCKETS_MS:
        if duration_ms <= upper:
            return bucket_field(upper)
    return bucket_field(None)


QUEUES: tuple[Queue, ...] = tuple(Queue)
