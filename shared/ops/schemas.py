"""Response shapes of the ops views (JSON API, dashboard, CLI, metrics all read these)."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, Field

from shared.jobs.status import JobProgress
from shared.models.jobs import MAX_SWEEPS
from shared.schemas import FromText, Strict


class QueuedJob(BaseModel):
    id: str
    function: str | None = Field(description="None when the job's definition is unreadable (not JSON).")
    queue: str
    run_at: datetime = Field(description="When the job is (or was) due: its score in the queue's sorted set.")
    enqueued_at: datetime | None
    tries: int | None = Field(description="The try number it was enqueued with, if any.")


class RunningJob(BaseModel):
    id: str
    function: str | None
    queue: str
    started_at: datetime
    running_seconds: float
    tries: int | None
    worker: str | None
    progress: JobProgress | None = None


class FinishedJob(BaseModel):
    id: str
    function: str | None
    queue: str | None
    status: str = Field(description="complete or failed")
    tries: int | None
    enqueued_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    worker: str | None = None
    error_type: str | None = None
    error_message: str | None = None
    retried_as: str | None = Field(default=None, description="The new job id, once an admin retried this one.")


class QueueStats(BaseModel):
    queue: str
    ready: int = Field(description="Due now and waiting for a worker (running jobs excluded).")
    deferred: int = Field(description="Due later (deferred or waiting for a retry).")
    running: int
    oldest_ready_age_seconds: float | None = Field(description="Queue latency: how long the oldest ready job waited.")
    waiting: list[QueuedJob] = Field(description="The oldest ready jobs (at most 20).")
    next_deferred: list[QueuedJob] = Field(description="The next deferred jobs (at most 20).")
    paused: bool = Field(
        default=False, description="An admin paused it: its workers claim no job and run no cron (running jobs finish)."
    )
    paused_at: datetime | None = Field(default=None, description="Since when it is paused.")
    paused_by: str | None = Field(default=None, description="The admin who paused it.")


class DurationBucket(BaseModel):
    le_ms: int | None = Field(description="Upper bound in ms; None is +Inf.")
    count: int = Field(description="Runs that took at most le_ms (cumulative, as in Prometheus).")


class FunctionStats(BaseModel):
    function: str
    queue: str | None
    complete: int
    failed: int
    retried: int
    duration_count: int
    duration_ms_sum: int
    mean_ms: float | None
    buckets: list[DurationBucket]


class WorkerState(StrEnum):
    running = "running"
    stalled = "stalled"  # alive (fresh heartbeat), but its poll loop keeps failing on Redis faults
    stopped = "stopped"
    down = "down"


class WorkerHealth(BaseModel):
    name: str
    queue: str | None
    host: str | None
    pid: int | None
    state: WorkerState = Field(
        description="down: no heartbeat for 3 intervals while it claimed to be running; stalled: a fresh heartbeat,"
        " but its poll loop has been failing on Redis faults for over an interval (it keeps retrying)."
    )
    started_at: datetime | None
    heartbeat_age_seconds: float | None
    complete: int = Field(description="Jobs it completed; its cron runs (sweeps) are counted apart.")
    failed: int
    retried: int
    sweeps: int = Field(default=0, description="Cron runs (the sweepers) it ended, whatever their outcome.")
    ongoing: int


class ThroughputPoint(BaseModel):
    """Tries that ended in one minute: jobs by outcome, and cron runs (sweeps) apart from them."""

    minute: datetime
    complete: int
    failed: int
    retried: int
    sweeps: int = Field(default=0, description="Cron runs (the sweepers) that ended, whatever their outcome.")
    sweeps_failed: int = Field(default=0, description="Of those, runs that failed.")


class JobBacklog(BaseModel):
    """Accepted bulk jobs not yet finished, from their durable records (shared.jobs.records)."""

    queued: int
    in_progress: int
    oldest_age_seconds: float | None = Field(description="Since the oldest unfinished job was accepted.")


class OutboxBacklog(BaseModel):
    waiting: int = Field(description="Outbox rows not yet processed.")
    oldest_age_seconds: float | None
    dead: int = Field(
        default=0, description=f"Of those, rows the sweeper gave up on after {MAX_SWEEPS} tries: they need a person."
    )


class AuditEntry(BaseModel):
    at: datetime
    user: str
    user_id: int | None
    action: str
    job_id: str | None
    detail: dict[str, Any] = Field(default_factory=dict)


class Totals(BaseModel):
    ready: int
    deferred: int
    running: int
    oldest_ready_age_seconds: float | None
    complete_last_hour: int = Field(description="Jobs done in the last hour; cron runs (sweeps) are not among them.")
    failed_last_hour: int
    retried_last_hour: int
    sweeps_last_hour: int = Field(default=0, description="Cron runs (the sweepers) ended in the last hour.")
    sweeps_failed_last_hour: int = Field(default=0, description="Of those, runs that failed.")
    workers_running: int
    workers_down: int
    workers_stalled: int = 0


class OpsSummary(BaseModel):
    generated_at: datetime
    totals: Totals
    queues: list[QueueStats]
    running: list[RunningJob]
    recent: list[FinishedJob]
    failed: list[FinishedJob]
    functions: list[FunctionStats]
    workers: list[WorkerHealth]
    throughput: list[ThroughputPoint] = Field(description="Ended tries per minute over the last hour, oldest first.")
    audit: list[AuditEntry]
    outbox: OutboxBacklog | None = None
    jobs: JobBacklog | None = None


class JobStatus(StrEnum):
    queued = "queued"
    deferred = "deferred"
    in_progress = "in_progress"
    complete = "complete"
    failed = "failed"


class JobErrorDetail(BaseModel):
    type: str
    message: str
    traceback: str


class JobDetail(BaseModel):
    id: str
    status: JobStatus
    function: str | None
    queue: str | None
    tries: int | None
    enqueued_at: datetime | None = None
    run_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_ms: int | None = None
    worker: str | None = None
    progress: JobProgress | None = None
    args_preview: str | None = Field(default=None, description="The job's arguments as JSON, cut at 4,000 chars.")
    result_preview: str | None = Field(default=None, description="A complete job's result as JSON, cut likewise.")
    error: JobErrorDetail | None = None
    retried_as: str | None = None
    retry_of: str | None = None
    abort_requested: bool = False


class RetryAccepted(BaseModel):
    job_id: str = Field(description="The failed job that was retried.")
    new_job_id: str
    queue: str


class AbortRequested(BaseModel):
    job_id: str
    status: str = Field(description="The job's status when the abort was asked for.")


class PurgeScope(StrEnum):
    all = "all"
    complete = "complete"
    failed = "failed"


class PurgeRequest(Strict):
    status: Annotated[PurgeScope, FromText] = Field(
        default=PurgeScope.all, description="Which results: `all`, or only `complete` or `failed` jobs'."
    )


class PurgeResult(BaseModel):
    purged: int = Field(description="Result keys deleted.")
    status: PurgeScope
