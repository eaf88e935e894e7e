"""The worker's job history writer: every try that ends is appended to an in-memory buffer (no I/O
in the job's path), and a flusher task writes the buffer every FLUSH_SECONDS, or as soon as
FLUSH_ROWS are waiting, in one transaction of two statements whatever the number of rows:
- the tries, as one `INSERT INTO job_run ... SELECT FROM unnest(<one array per column>)`;
- the per-minute metrics (shared.ops.buckets), added up here per (function, queue, minute) first,
  as one multi-row `INSERT INTO job_metric_minute ... ON CONFLICT DO UPDATE` adding to the minute.
The worker's shutdown flushes what is left.

History is best effort, never a reason to fail or slow a job: if PostgreSQL is down the rows stay
buffered and the next flush tries again, up to MAX_BUFFERED_ROWS (about 5 MB); past that the oldest
are dropped, counted and logged. A worker killed with SIGKILL loses at most its last second.
A job's durable truth is elsewhere (a bulk job's record, the outbox): this is what ran, for people.

Cron runs (the sweepers, every few seconds) count in their own function's metrics but not in the
"every function" rows (as the ops views keep sweeps apart), and only their failures are kept as
runs: a day of successful sweeps is ~70,000 rows that say nothing.
"""

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Integer, String, Text, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, TIMESTAMP, insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import unit_of_work
from shared.models.base import table_of
from shared.models.jobs import ALL_FUNCTIONS, ALL_QUEUES, JobMetricMinute, RunStatus
from shared.ops import buckets

logger = logging.getLogger(__name__)

FLUSH_SECONDS = 1.0
FLUSH_ROWS = 500
MAX_BUFFERED_ROWS = 10_000
MAX_PENDING_MINUTES = 5_000  # (function, queue, minute) groups waiting: minutes x functions
ARGS_PREVIEW_CHARS = 1_000
ERROR_MESSAGE_CHARS = 2_000
# Keyword arguments whose value is never kept (a token passed to a job, say), at any depth.
SECRET_KEY = re.compile(r"pass|secret|token|credential|api_?key|auth", re.IGNORECASE)
HIDDEN = "***"


@dataclass(slots=True)
class RunRecord:
    """One ended try, as job_run keeps it (times in ms since the epoch)."""

    job_id: str
    function: str
    queue: str
    attempt: int
    status: RunStatus
    enqueued_ms: int | None
    started_ms: int
    ended_ms: int
    duration_ms: int
    wait_ms: int | None
    worker: str
    args_preview: str | None
    error_type: str | None = None
    error_message: str | None = None
    cron: bool = False


def _hidden(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: HIDDEN if SECRET_KEY.search(str(key)) else _hidden(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_hidden(item) for item in value]
    return value


def args_preview(args: Sequence[Any], kwargs: dict[str, Any]) -> str:
    """The arguments as JSON, secret-looking keys' values hidden, cut to ARGS_PREVIEW_CHARS."""
    raw = json.dumps({"args": _hidden(list(args)), "kwargs": _hidden(kwargs)}, default=str)
    return raw if len(raw) <= ARGS_PREVIEW_CHARS else raw[:ARGS_PREVIEW_CHARS] + "…"


@dataclass
class _Minute:
    complete: int = 0
    failed: int = 0
    retried: int = 0
    run_ms_sum: int = 0
    wait_ms_sum: int = 0
    run_buckets: list[int] = field(default_factory=buckets.empty)
    wait_buckets: list[int] = field(default_factory=buckets.empty)

    def count(self, run: RunRecord) -> None:
        setattr(self, run.status, getattr(self, run.status) + 1)
        self.run_ms_sum += run.duration_ms
        self.run_buckets[buckets.bucket_of(run.duration_ms)] += 1
        if run.wait_ms is not None:
            self.wait_ms_sum += run.wait_ms
            self.wait_buckets[buckets.bucket_of(run.wait_ms)] += 1

    def row(self, key: tuple[str, str, int]) -> dict[str, Any]:
        function, queue, minute = key
        return {
            "function": function,
            "queue": queue,
            "minute": datetime.fromtimestamp(minute * 60, UTC),
            "complete": self.complete,
            "failed": self.failed,
            "retried": self.retried,
            "run_ms_sum": self.run_ms_sum,
            "wait_ms_sum": self.wait_ms_sum,
            "run_buckets": self.run_buckets,
            "wait_buckets": self.wait_buckets,
        }


def _at(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


_COLUMNS: tuple[tuple[str, Any], ...] = (
    ("job_id", ARRAY(String)),
    ("function", ARRAY(String)),
    ("queue", ARRAY(String)),
    ("attempt", ARRAY(Integer)),
    ("status", ARRAY(String)),
    ("enqueued_at", ARRAY(TIMESTAMP(timezone=True))),
    ("started_at", ARRAY(TIMESTAMP(timezone=True))),
    ("ended_at", ARRAY(TIMESTAMP(timezone=True))),
    ("duration_ms", ARRAY(Integer)),
    ("wait_ms", ARRAY(Integer)),
    ("worker", ARRAY(String)),
    ("args_preview", ARRAY(Text)),
    ("error_type", ARRAY(String)),
    ("error_message", ARRAY(Text)),
)
_SQL_TYPES = {"job_id": "varchar", "function": "varchar", "queue": "varchar", "attempt": "int", "status": "varchar"}
_SQL_TYPES |= {"enqueued_at": "timestamptz", "started_at": "timestamptz", "ended_at": "timestamptz"}
_SQL_TYPES |= {"duration_ms": "int", "wait_ms": "int", "worker": "varchar", "args_preview": "text"}
_SQL_TYPES |= {"error_type": "varchar", "error_message": "text"}
_NAMES = ", ".join(name for name, _ in _COLUMNS)
# One statement text whatever the number of rows (the driver prepares it once).
INSERT_RUNS = text(
    f"INSERT INTO job_run ({_NAMES}) SELECT * FROM unnest("
    + ", ".join(f"CAST(:{name} AS {_SQL_TYPES[name]}[])" for name, _ in _COLUMNS)
    + ")"
).bindparams(*(bindparam(name, type_=kind) for name, kind in _COLUMNS))


def _run_arrays(runs: Sequence[RunRecord]) -> dict[str, list[Any]]:
    return {
        "job_id": [run.job_id for run in runs],
        "function": [run.function for run in runs],
        "queue": [run.queue for run in runs],
        "attempt": [run.attempt for run in runs],
        "status": [str(run.status) for run in runs],
        "enqueued_at": [_at(run.enqueued_ms) for run in runs],
        "started_at": [_at(run.started_ms) for run in runs],
        "ended_at": [_at(run.ended_ms) for run in runs],
        "duration_ms": [run.duration_ms for run in runs],
        "wait_ms": [run.wait_ms for run in runs],
        "worker": [run.worker for run in runs],
        "args_preview": [run.args_preview for run in runs],
        "error_type": [run.error_type for run in runs],
        "error_message": [run.error_message for run in runs],
    }


def _upsert_minutes(rows: list[dict[str, Any]]) -> Any:
    """Add each row to its minute's (the first try of a minute inserts it)."""
    table = table_of(JobMetricMinute)
    statement = insert(table).values(rows)
    old, new = table.c, statement.excluded
    summed: dict[str, Any] = {
        name: old[name] + new[name] for name in ("complete", "failed", "retried", "run_ms_sum", "wait_ms_sum")
    }
    for name in ("run_buckets", "wait_buckets"):
        # Bucket by bucket: unnest of two arrays zips them, in order.
        summed[name] = text(f"ARRAY(SELECT a + b FROM unnest(job_metric_minute.{name}, excluded.{name}) AS t(a, b))")
    return statement.on_conflict_do_update(index_elements=["function", "queue", "minute"], set_=summed)


class HistoryRecorder:
    """One worker process's buffer of ended tries and of their per-minute metrics (see the module)."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        flush_seconds: float = FLUSH_SECONDS,
        flush_rows: int = FLUSH_ROWS,
        max_rows: int = MAX_BUFFERED_ROWS,
    ) -> None:
        self.session_factory = session_factory
        self.flush_seconds, self.flush_rows, self.max_rows = flush_seconds, flush_rows, max_rows
        self.runs: list[RunRecord] = []
        self.minutes: dict[tuple[str, str, int], _Minute] = {}
        self.dropped = 0  # runs never written: the buffer was full (PostgreSQL down for long)
        self.written = 0
        self.failing = False
        self._due = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._stopping = False

    def add(self, run: RunRecord) -> None:
        """Buffer one ended try (no I/O); the flusher writes it within FLUSH_SECONDS."""
        minute = run.ended_ms // 60_000
        keys = [(run.function, run.queue, minute)]
        if not run.cron:
            keys += [(ALL_FUNCTIONS, run.queue, minute), (ALL_FUNCTIONS, ALL_QUEUES, minute)]
        for key in keys:
            self.minutes.setdefault(key, _Minute()).count(run)
        while len(self.minutes) > MAX_PENDING_MINUTES:
            del self.minutes[min(self.minutes, key=lambda k: k[2])]
        if not run.cron or run.status == RunStatus.failed:
            self.runs.append(run)
            if len(self.runs) > self.max_rows:
                excess = len(self.runs) - self.max_rows
                del self.runs[:excess]
                self.dropped += excess
        if len(self.runs) >= self.flush_rows:
            self._due.set()
        if (self._task is None or self._task.done()) and not self._stopping:
            self._task = asyncio.create_task(self._flush_forever(), name="job history flusher")

    async def _flush_forever(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._due.wait(), self.flush_seconds)
            self._due.clear()
            await self.flush()

    async def flush(self) -> int:
        """Write what is buffered (one transaction); how many runs were written. On failure, keep it."""
        async with self._lock:
            runs, minutes = self.runs, self.minutes
            if not runs and not minutes:
                return 0
            self.runs, self.minutes = [], {}
            try:
                async with unit_of_work(self.session_factory) as session:
                    if runs:
                        await session.execute(INSERT_RUNS, _run_arrays(runs))
                    if minutes:
                        await session.execute(_upsert_minutes([group.row(key) for key, group in minutes.items()]))
            except Exception as error:  # PostgreSQL down, or anything else: history never stops the worker
                self._put_back(runs, minutes)
                if not self.failing:
                    logger.warning("job history: could not write %d run(s), kept to retry: %r", len(runs), error)
                self.failing = True
                return 0
            if self.failing:
                logger.info("job history: writing again (%d run(s) dropped meanwhile)", self.dropped)
            self.failing = False
            self.written += len(runs)
            return len(runs)

    def _put_back(self, runs: list[RunRecord], minutes: dict[tuple[str, str, int], _Minute]) -> None:
        self.runs = runs + self.runs
        if len(self.runs) > self.max_rows:
            excess = len(self.runs) - self.max_rows
            del self.runs[:excess]
            self.dropped += excess
        for key, group in minutes.items():
            if (newer := self.minutes.get(key)) is None:
                self.minutes[key] = group
                continue
            for name in ("complete", "failed", "retried", "run_ms_sum", "wait_ms_sum"):
                setattr(newer, name, getattr(newer, name) + getattr(group, name))
            buckets.added(newer.run_buckets, group.run_buckets)
            buckets.added(newer.wait_buckets, group.wait_buckets)

    async def close(self) -> None:
        """Stop the flusher and write what is left (the worker's shutdown)."""
        self._stopping = True  # not cancelled: a flush under way finishes (a cancel would lose its rows)
        self._due.set()
        if self._task is not None:
            await self._task
            self._task = None
        await self.flush()
