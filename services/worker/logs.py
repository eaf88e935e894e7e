"""What a worker says at INFO: its work, not its routine (issue #19, "Quiet by default").

arq logs every job's start and end at INFO on the `arq.worker` logger, cron jobs included, and its
health line whenever a count changed. With two sweepers every 5 s that was most of what a worker
said: 1,029 of 1,577 lines in 17 minutes of an idle `make run`. A filter on that logger changes:

- a cron job's start and end lines: DEBUG. A cron run that failed or was retried keeps its level
  (that is news); a sweep that did something says so itself, in one INFO line of its own
  (shared.jobs.sweepers).
- arq's "recording health" line: DEBUG. It follows every run, a sweep's too, so an idle worker
  repeated it every 5 s; Guildhall's own heartbeat (services.worker.telemetry) keeps the same counts
  for the ops views.
- a job that ended on an expected refusal (a DomainError: its input broke a rule, as BulkRefused
  says): one WARNING line, no traceback, instead of ERROR with one. Its traceback only shows where
  the rule is checked; the message says which rule and which rows, and the job's record and the
  ops views keep it. DatabaseUnavailable is a DomainError but an outage, not a refusal: it keeps its
  traceback, as does every other exception.

A lowered record is kept only when its logger is enabled for the new level (`arq --verbose`, or a
logging config that sets `arq` to DEBUG, shows cron runs as DEBUG lines); otherwise it is dropped
here, so a handler without a level of its own does not print it either.
"""

import logging
from collections.abc import Iterable

from shared.errors import DatabaseUnavailable, DomainError

ARQ_WORKER_LOGGER = "arq.worker"

# arq's own format strings (arq/worker.py: run_job and record_health; arq 0.28, constraints.txt).
# Matched exactly, so an arq upgrade that rewords them makes tests/worker/test_quiet_logs.py fail
# instead of the filter silently doing nothing.
JOB_STARTED = "%6.2fs → %s(%s)%s"
JOB_FINISHED = "%6.2fs ← %s ● %s"
JOB_FAILED = "%6.2fs ! %s failed, %s: %s"
RECORDING_HEALTH = "recording health: %s"


def is_expected_refusal(error: BaseException | None) -> bool:
    """A job's input broke a rule: the error says everything there is to say."""
    return isinstance(error, DomainError) and not isinstance(error, DatabaseUnavailable)


def _lowered(record: logging.LogRecord, level: int) -> bool:
    record.levelno = level
    record.levelname = logging.getLevelName(level)
    return logging.getLogger(record.name).isEnabledFor(level)


def _job_ref(record: logging.LogRecord) -> object:
    # The job's reference is arq's second argument: a cron job's name ("cron:sweep_outbox"), or
    # "<job id>:<function>" for any other job.
    return record.args[1] if isinstance(record.args, tuple) and len(record.args) > 1 else None


class QuietRoutine(logging.Filter):
    """The filter on `arq.worker` (module docstring). One per process, shared by its workers."""

    def __init__(self) -> None:
        super().__init__()
        self.cron_names: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg in (JOB_STARTED, JOB_FINISHED) and _job_ref(record) in self.cron_names:
            return _lowered(record, logging.DEBUG)
        if record.msg == RECORDING_HEALTH:
            return _lowered(record, logging.DEBUG)
        if record.msg == JOB_FAILED and record.exc_info and is_expected_refusal(record.exc_info[1]):
            record.exc_info = None
            record.exc_text = None
            return _lowered(record, logging.WARNING)
        return True


QUIET_ROUTINE = QuietRoutine()


def quiet_routine_lines(cron_names: Iterable[str]) -> None:
    """Install the filter on arq's worker logger (once per process), knowing these cron jobs.

    A filter on the logger itself, not on a handler: it holds whatever logging config the process
    has (arq's CLI, `guildhall worker`, pytest's), and dictConfig keeps it (neither configures
    `arq.worker` by name)."""
    QUIET_ROUTINE.cron_names.update(cron_names)
    logging.getLogger(ARQ_WORKER_LOGGER).addFilter(QUIET_ROUTINE)  # a no-op once added
