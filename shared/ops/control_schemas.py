"""Response shapes of the queue controls (pause, resume) and of the cron view."""

from datetime import datetime

from pydantic import BaseModel, Field


class QueuePauseState(BaseModel):
    """A queue's pause, as a pause or resume request left it."""

    queue: str
    paused: bool
    paused_at: datetime | None = Field(description="Since when it is paused (None: it runs).")
    paused_by: str | None = Field(description="The admin who paused it.")
    changed: bool = Field(description="False when the queue already was in the state asked for (nothing changed).")
    detail: str = Field(description="What happened, in words (e.g. that it was already paused, since when, by whom).")


class CronRun(BaseModel):
    """A periodic job's last run, as its worker recorded it when the run ended."""

    job_id: str
    outcome: str = Field(description="complete, failed, or retried (arq put it back: a Retry, or a shutdown).")
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    worker: str | None
    error_type: str | None = None
    error_message: str | None = None


class CronView(BaseModel):
    function: str = Field(description="The job function (its runs' job ids are cron:<function>:<run-at ms>).")
    queue: str
    schedule: str = Field(description="When it runs, in words (arq's cron: at these seconds of every minute).")
    every_seconds: int
    timeout_seconds: int
    paused: bool = Field(description="Its queue is paused: its runs are skipped until the queue is resumed.")
    last_run: CronRun | None = Field(description="None: no run has ended since Redis was last emptied.")
    last_complete_at: datetime | None
    last_failed_at: datetime | None
    next_run_at: datetime = Field(description="The next slot of its schedule (a paused queue skips it).")


class CronsView(BaseModel):
    generated_at: datetime
    crons: list[CronView]
