"""The growth benchmark's job history: n job_run rows per size (one try each of the short queue's
outbox job, every 33rd failed with an error, every 10th a second try), over the last 13 days (inside
JOB_HISTORY_DAYS, so retention deletes none), and a day of per-minute metrics (its size is minutes x
functions, whatever n); and the history reads, each page's first and a middle one."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import asyncpg

from shared.ops.buckets import BUCKETS
from shared.schemas import TimeIdPosition

FAILED_EVERY = 33
FUNCTION, QUEUE = "process_outbox_message", "guildhall:short"
# Row g of n ended (13 days * (1 - g / n)) ago: the newest now.
AGE = "interval '13 days' * (1 - g::float8 / $3::float8)"


async def seed(connection: asyncpg.Connection, lo: int, hi: int, n: int) -> None:
    await connection.execute(
        f"""INSERT INTO job_run (id, job_id, function, queue, attempt, status, enqueued_at, started_at, ended_at,
                                 duration_ms, wait_ms, worker, args_preview, error_type, error_message)
           SELECT g, 'outbox:' || (g / 2), '{FUNCTION}', '{QUEUE}', 1 + (g % 10 = 0)::int,
                  CASE WHEN g % {FAILED_EVERY} = 0 THEN 'failed' ELSE 'complete' END,
                  now() - {AGE} - interval '60 ms', now() - {AGE} - interval '40 ms', now() - {AGE}, 40, 20,
                  'host:1', '{{"args": [], "kwargs": {{"message_id": ' || g || '}}}}',
                  CASE WHEN g % {FAILED_EVERY} = 0 THEN 'ConstraintViolation' END,
                  CASE WHEN g % {FAILED_EVERY} = 0 THEN 'a rule of row ' || g END
           FROM generate_series($1::int, $2::int) g""",
        lo,
        hi,
        float(n),
    )
    await connection.execute("SELECT setval(pg_get_serial_sequence('job_run', 'id'), (SELECT max(id) FROM job_run))")
    buckets = [0] * BUCKETS
    buckets[20] = 60  # 40 ms runs
    await connection.execute(
        """INSERT INTO job_metric_minute (function, queue, minute, complete, failed, retried, run_ms_sum,
                                          wait_ms_sum, run_buckets, wait_buckets)
           SELECT f, q, date_trunc('minute', now()) - m * interval '1 minute', 58, 2, 0, 2400, 1200, $1, $1
           FROM generate_series(0, 1439) m,
                (VALUES ($2, $3), ('*', $3), ('*', '*')) AS s(f, q)
           ON CONFLICT DO NOTHING""",
        buckets,
        FUNCTION,
        QUEUE,
    )


def history_reads(
    listed: Callable[..., None], add: Callable[[str, str, str, tuple[str, ...]], None], n: int, admin: tuple[str, ...]
) -> None:
    """The history reads at size n (`listed` and `add` are bench/growth_reads.py's)."""
    mid = n // 2
    # Row mid ended 13 days * (1 - mid / n) ago: its position, for a page from the middle.
    at = datetime.now(UTC) - timedelta(days=13) * (1 - mid / n)
    middle = TimeIdPosition(at=at, id=mid).encode()
    runs = "/ops/jobs"
    listed("ops/jobs (job history)", runs, runs, admin, middle)
    listed("ops/jobs ?function", runs, runs, admin, middle, function=FUNCTION)
    listed("ops/jobs ?status=failed (1 in 33)", runs, runs, admin, middle, status="failed")
    listed("ops/jobs ?queue", runs, runs, admin, middle, queue=QUEUE)
    listed("ops/jobs ?q=<an error's text>", runs, runs, admin, None, q=f"row {mid - mid % FAILED_EVERY}")
    attempts = "/ops/jobs/{job_id}/attempts"
    add("ops/jobs/<id>/attempts", attempts, f"/ops/jobs/outbox:{mid // 2}/attempts", admin)
    metrics = "/ops/metrics/history"
    add("ops/metrics/history (an hour)", metrics, metrics, admin)
    add("ops/metrics/history ?step=1 (a day: 1,440 points)", metrics, f"{metrics}?since={_day_ago()}", admin)


def _day_ago() -> str:
    return (datetime.now(UTC) - timedelta(hours=23, minutes=59)).strftime("%Y-%m-%dT%H:%M:%SZ")
