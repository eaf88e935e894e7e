"""Response shapes and filters of the job history views (GET /api/v1/ops/jobs, .../attempts,
/ops/metrics/history)."""

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, Field

from shared.models.jobs import RunStatus
from shared.schemas import Page


@dataclass(frozen=True)
class RunFilters:
    """The filters of the run list: every one optional; `q` matches the arguments' preview or the
    error message (an operator's, the error only: the arguments are not theirs to read)."""

    function: str | None = None
    status: RunStatus | None = None
    queue: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    q: str | None = None


class JobRunItem(BaseModel):
    """One try of one job, as it ended."""

    id: int = Field(description="The run's own id (the order runs were recorded in).")
    job_id: str
    function: str
    queue: str
    attempt: int = Field(description="The try number: 1 for the first run.")
    status: RunStatus = Field(description="complete, failed, or retried (queued again after this try)")
    enqueued_at: datetime | None
    started_at: datetime
    ended_at: datetime
    duration_ms: int
    wait_ms: int | None = Field(description="From when the try was due to when it started.")
    worker: str
    args_preview: str | None = Field(description="The arguments, cut (null for an operator).")
    error_type: str | None
    error_message: str | None


class JobRunPage(Page[JobRunItem]):
    """A page of runs, newest first; pass `next_cursor` back as `cursor` for older ones."""


class Percentiles(BaseModel):
    p50: float | None
    p95: float | None
    p99: float | None


class MetricPoint(BaseModel):
    """One step of the metric history: tries that ended in it, by outcome, and percentiles (ms) of
    run time and of wait time (from due to start), each the upper bound of its histogram bucket."""

    at: datetime = Field(description="The step's first minute.")
    complete: int
    failed: int
    retried: int
    throughput_per_minute: float = Field(description="Tries that finished (complete or failed) per minute.")
    failure_rate: float | None = Field(description="failed / (complete + failed); null with neither.")
    run_ms: Percentiles
    wait_ms: Percentiles


class MetricHistory(BaseModel):
    function: str | None = Field(description="null: every function but the cron sweepers")
    queue: str | None = Field(description="null: every queue")
    since: datetime
    until: datetime
    step_minutes: int
    points: list[MetricPoint] = Field(description="One per step, oldest first, empty steps included.")
    overall: MetricPoint = Field(description="The whole window as one step.")
