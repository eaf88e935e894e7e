"""arq worker settings: `arq services.worker.main.WorkerSettings` (short queue) and
`arq services.worker.main.BulkWorkerSettings` (bulk queue), or `guildhall worker --queue ...`.

Two queues, two workers: a bulk job's long timeout would otherwise be the time a
crashed short job waits before arq retries it (its in-progress key lives for the
worker's longest timeout + 10 s).

Throughput settings (measured with bench/queue_throughput.py, see README): arq starts at
most `max_jobs` jobs per poll and sleeps `poll_delay` between polls, so the defaults
(10, 0.5 s) cap small jobs near 200/s here.
"""

from typing import Any, ClassVar

from arq import cron
from arq.worker import func

from services.worker.context import after_job_end, on_job_start, shutdown, startup_for
from services.worker.jobs.bulk import bulk_delete_heroes, bulk_post_operation, bulk_update_heroes
from services.worker.jobs.outbox import process_outbox_message, process_transfer_audits, sweep_outbox
from services.worker.jobs.sweep_jobs import sweep_jobs
from services.worker.logs import quiet_routine_lines
from shared.jobs.queues import Queue, redis_settings
from shared.jobs.serialization import deserialize, serialize
from shared.settings import get_settings

_settings = get_settings()

SWEEP_EVERY_SECONDS = 5

# The two classes repeat their common lines on purpose: arq reads a settings class's own
# __dict__ (arq.worker.get_kwargs), so attributes inherited from a shared base would be ignored.


class WorkerSettings:
    """Short jobs: outbox processing (transfer audits, comment moderation) and the two sweepers
    (outbox rows, accepted bulk jobs)."""

    queue_name = Queue.short
    functions: ClassVar[list[Any]] = [
        # Results of outbox jobs are kept briefly: while kept, the sweeper cannot enqueue
        # the same deterministic id again, so a failed one is retried soon after.
        func(process_outbox_message, keep_result=60, max_tries=10),
        # One per window of transfer commits (ids are never reused): a short-kept result is enough.
        func(process_transfer_audits, keep_result=60, max_tries=10),
    ]
    cron_jobs: ClassVar[list[Any]] = [
        cron(sweep_outbox, second=set(range(0, 60, SWEEP_EVERY_SECONDS)), run_at_startup=True, unique=True, timeout=20),
        # Accepted bulk jobs whose trigger Redis lost (shared.jobs.records).
        cron(sweep_jobs, second=set(range(0, 60, SWEEP_EVERY_SECONDS)), run_at_startup=True, unique=True, timeout=20),
    ]
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
    functions: ClassVar[list[Any]] = [
        func(bulk_update_heroes, max_tries=3),
        func(bulk_delete_heroes, max_tries=3),
        func(bulk_post_operation, max_tries=3),
    ]
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


# For `arq services.worker.main.WorkerSettings` too, whose Worker is arq's own (ResilientWorker, which
# `guildhall worker` runs, installs it as well): cron runs at DEBUG (services.worker.logs).
quiet_routine_lines(job.name for job in WorkerSettings.cron_jobs)


def settings_class(queue: Queue) -> type[WorkerSettings] | type[BulkWorkerSettings]:
    """The settings class of `queue`'s worker (services.worker.factory builds workers from it)."""
    return BulkWorkerSettings if queue == Queue.bulk else WorkerSettings
