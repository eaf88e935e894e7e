"""arq worker settings: `arq services.worker.main.WorkerSettings` (short queue) and
`arq services.worker.main.BulkWorkerSettings` (bulk queue), or `guildhall worker --queue ...`.

Two queues, two workers: a bulk job's long timeout would otherwise be the time a
crashed short job waits before arq retries it (its in-progress key lives for the
worker's longest timeout + 10 s).

The functions and cron jobs of each are derived from the job declarations (shared.jobs.registry:
the domains' jobs.py and the jobs infrastructure's sweepers), never listed here.

Throughput settings (measured with bench/queue_throughput.py, see README): arq starts at
most `max_jobs` jobs per poll and sleeps `poll_delay` between polls, so the defaults
(10, 0.5 s) cap small jobs near 200/s here.
"""

from typing import ClassVar

from arq.cron import CronJob
from arq.worker import Function, func

from services.worker.context import after_job_end, on_job_start, shutdown, startup_for
from services.worker.logs import quiet_routine_lines
from shared.jobs import registry
from shared.jobs.queues import Queue, redis_settings
from shared.jobs.schedule import arq_cron
from shared.jobs.serialization import deserialize, serialize
from shared.jobs.spec import CronSpec, JobSpec
from shared.jobs.sweepers import SWEEP_EVERY_SECONDS
from shared.settings import get_settings

_settings = get_settings()

__all__ = ["SWEEP_EVERY_SECONDS", "BulkWorkerSettings", "WorkerSettings", "cron_job", "function", "settings_class"]


def function(spec: JobSpec) -> Function:
    """A job's arq function: its tries, and how long its result is kept (None: the worker's keep_result)."""
    return func(spec.function, max_tries=spec.max_tries, keep_result=spec.keep_result_seconds)


def cron_job(spec: CronSpec) -> CronJob:
    """A periodic job's arq cron job: every `every_seconds` (at those seconds of each minute), at
    start-up too, one run at a time across workers (unique), each bounded by its timeout. Built in
    shared.jobs.schedule, where the cron view reads its next run from the same schedule."""
    return arq_cron(spec)


# The two classes repeat their common lines on purpose: arq reads a settings class's own
# __dict__ (arq.worker.get_kwargs), so attributes inherited from a shared base would be ignored.


class WorkerSettings:
    """Short jobs: outbox processing (transfer audits, comment moderation) and the two sweepers
    (outbox rows, accepted bulk jobs)."""

    queue_name = Queue.short
    functions: ClassVar[list[Function]] = [function(spec) for spec in registry.jobs_of(Queue.short)]
    cron_jobs: ClassVar[list[CronJob]] = [cron_job(spec) for spec in registry.crons_of(Queue.short)]
    redis_settings = redis_settings(_settings.redis_url)
    job_serializer = staticmethod(serialize)
    job_deserializer = staticmethod(deserialize)
    on_startup = startup_for(Queue.short)
    on_shutdown = shutdown
    on_job_start = on_job_start
    after_job_end = after_job_end
    job_timeout = _settings.short_job_timeout_seconds
    max_jobs = 100
    poll_delay = 0.05
    keep_result = 3600
    health_check_interval = 5
    allow_abort_jobs = True
    job_completion_wait = _settings.short_job_timeout_seconds  # SIGTERM lets running jobs finish


class BulkWorkerSettings:
    """Long jobs: bulk hero updates and deletes, bulk post operations."""

    queue_name = Queue.bulk
    functions: ClassVar[list[Function]] = [function(spec) for spec in registry.jobs_of(Queue.bulk)]
    cron_jobs: ClassVar[list[CronJob]] = [cron_job(spec) for spec in registry.crons_of(Queue.bulk)]
    redis_settings = redis_settings(_settings.redis_url)
    job_serializer = staticmethod(serialize)
    job_deserializer = staticmethod(deserialize)
    on_startup = startup_for(Queue.bulk)
    on_shutdown = shutdown
    on_job_start = on_job_start
    after_job_end = after_job_end
    job_timeout = _settings.bulk_job_timeout_seconds
    max_jobs = 2  # each holds a connection and a large transaction; two cores here
    # One ZRANGEBYSCORE per poll is nothing next to a bulk job; a job waits half of this on average.
    poll_delay = 0.05
    keep_result = 24 * 3600
    health_check_interval = 5
    allow_abort_jobs = True
    job_completion_wait = _settings.bulk_job_timeout_seconds


def settings_class(queue: Queue) -> type[WorkerSettings] | type[BulkWorkerSettings]:
    """The settings class of `queue`'s worker (services.worker.factory builds workers from it)."""
    return BulkWorkerSettings if queue == Queue.bulk else WorkerSettings


# For `arq services.worker.main.WorkerSettings` too, whose Worker is arq's own (ResilientWorker, which
# `guildhall worker` runs, installs it as well): cron runs at DEBUG (services.worker.logs).
quiet_routine_lines(job.name for job in WorkerSettings.cron_jobs)
