"""The metric history: per minute (or per step of minutes), for one function, one queue or all of
them, tries ended by outcome and run and wait time percentiles, read from job_metric_minute.

A window reads at most one row per minute per queue the function ran on (the primary key,
(function, queue, minute), in order): 1,440 rows for a day, whatever the traffic. Percentiles are
read from the summed histogram buckets (shared.ops.buckets), never from the runs.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.errors import ConstraintViolation
from shared.models.base import table_of
from shared.models.jobs import ALL_FUNCTIONS, ALL_QUEUES, JobMetricMinute
from shared.ops import buckets
from shared.ops.history_schemas import MetricHistory, MetricPoint, Percentiles

MAX_POINTS = 1_440
DEFAULT_WINDOW = timedelta(hours=1)
METRIC = table_of(JobMetricMinute)


def minute_floor(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(second=0, microsecond=0)


def minute_ceiling(at: datetime) -> datetime:
    floor = minute_floor(at)
    return floor if floor == at else floor + timedelta(minutes=1)


@dataclass
class _Step:
    complete: int = 0
    failed: int = 0
    retried: int = 0
    run: list[int] = field(default_factory=buckets.empty)
    wait: list[int] = field(default_factory=buckets.empty)

    def add(self, row: Any) -> None:
        self.complete += row.complete
        self.failed += row.failed
        self.retried += row.retried
        buckets.added(self.run, row.run_buckets)
        buckets.added(self.wait, row.wait_buckets)

    def point(self, at: datetime, minutes: int) -> MetricPoint:
        finished = self.complete + self.failed
        return MetricPoint(
            at=at,
            complete=self.complete,
            failed=self.failed,
            retried=self.retried,
            throughput_per_minute=finished / minutes,
            failure_rate=self.failed / finished if finished else None,
            run_ms=_percentiles(self.run),
            wait_ms=_percentiles(self.wait),
        )


def _percentiles(counts: list[int]) -> Percentiles:
    return Percentiles(
        p50=buckets.percentile(counts, 0.5), p95=buckets.percentile(counts, 0.95), p99=buckets.percentile(counts, 0.99)
    )


def metric_statement(function: str | None, queue: str | None, since: datetime, until: datetime) -> Select[Any]:
    """The window's minutes: one series, or (a function without a queue) one per queue it ran on."""
    statement = select(METRIC).where(
        METRIC.c.function == bindparam("function"),
        METRIC.c.minute >= bindparam("since"),
        METRIC.c.minute < bindparam("until"),
    )
    params: dict[str, Any] = {"function": function or ALL_FUNCTIONS, "since": since, "until": until}
    if queue is not None or function is None:
        statement = statement.where(METRIC.c.queue == bindparam("queue"))
        params["queue"] = queue or ALL_QUEUES
    return statement.order_by(METRIC.c.minute).params(params)


def window(
    since: datetime | None, until: datetime | None, step_minutes: int, now: datetime
) -> tuple[datetime, datetime]:
    """The window in whole minutes (default: the last hour), at most MAX_POINTS steps (422 otherwise)."""
    end = minute_ceiling(until or now)
    start = minute_floor(since) if since is not None else end - DEFAULT_WINDOW
    if end <= start:
        raise ConstraintViolation(
            kind="check",
            constraint="window_ordered",
            table=None,
            fields=("query.until",),
            message="until must be later than since",
            value=None,
        )
    steps = -(-int((end - start).total_seconds() // 60) // step_minutes)
    if steps > MAX_POINTS:
        raise ConstraintViolation(
            kind="check",
            constraint="metric_points_bounded",
            table=None,
            fields=("query.since",),
            message=f"the window holds {steps} steps of {step_minutes} min: at most {MAX_POINTS}"
            " (a shorter window, or a longer step)",
            value=None,
        )
    return start, end


async def metric_history(
    session: AsyncSession,
    *,
    function: str | None = None,
    queue: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    step_minutes: int = 1,
    now: datetime | None = None,
) -> MetricHistory:
    start, end = window(since, until, step_minutes, now or datetime.now(UTC))
    rows = (await session.exec(metric_statement(function, queue, start, end))).all()  # type: ignore[call-overload]  # a Core select runs as execute()
    step = timedelta(minutes=step_minutes)
    count = -(-int((end - start) / timedelta(minutes=1)) // step_minutes)
    steps = [_Step() for _ in range(count)]
    overall = _Step()
    for row in rows:
        steps[int((row.minute - start) / step)].add(row)
        overall.add(row)
    total_minutes = int((end - start) / timedelta(minutes=1))
    return MetricHistory(
        function=function,
        queue=queue,
        since=start,
        until=end,
        step_minutes=step_minutes,
        points=[item.point(start + index * step, step_minutes) for index, item in enumerate(steps)],
        overall=overall.point(start, total_minutes),
    )
