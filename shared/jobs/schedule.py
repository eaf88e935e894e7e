"""A periodic job's arq schedule, built once from its CronSpec: the worker runs it
(services.worker.main.cron_job) and the cron view tells its next run from the same object (arq's
CronJob.calculate_next), so the two cannot disagree and no cron arithmetic is written here."""

from datetime import UTC, datetime

from arq import cron
from arq.cron import CronJob

from shared.jobs.spec import CronSpec

# How long a cron run's result (arq:result:cron:<function>:<slot ms>) is kept. arq keeps none by
# default; then the job-end hook could not tell a failed run from a complete one (it reads the
# outcome from the result: shared.ops.telemetry), and a second worker could enqueue and run a slot
# again once its first run had ended (a unique slot's id is free again without its result).
CRON_KEEP_RESULT_SECONDS = 60


def arq_cron(spec: CronSpec) -> CronJob:
    """Every `every_seconds` (at those seconds of each minute), at start-up too, one run at a time
    across workers (unique), each bounded by its timeout, its result kept a minute."""
    seconds = set(range(0, 60, spec.every_seconds))
    return cron(
        spec.function,
        second=seconds,
        run_at_startup=True,
        unique=True,
        timeout=spec.timeout_seconds,
        keep_result=CRON_KEEP_RESULT_SECONDS,
    )


def next_run(spec: CronSpec, now: datetime | None = None) -> datetime:
    """The first slot of the schedule after `now` (UTC; the schedule names seconds of the minute
    only, so the worker's time zone does not move it)."""
    job = arq_cron(spec)
    job.calculate_next(now or datetime.now(UTC))
    assert job.next_run is not None  # calculate_next always sets it
    return job.next_run


def described(spec: CronSpec) -> str:
    if spec.every_seconds == 60:
        return "every minute, at :00"
    return f"every {spec.every_seconds} s"
