"""The cron view: each periodic job's schedule, last run (start, end, outcome, error) and next run.

The last run is written by the worker that ran it, in the pipeline its job-end hook already sends
(shared.ops.telemetry.record_outcome calls `queue_last_run`): one HSET more per cron run, no round
trip. The next run is the schedule's next slot, from arq's own CronJob (shared.jobs.schedule), and
the view reads one hash per cron and one key per queue (its pause) in one round trip."""

from collections.abc import Iterable
from datetime import UTC, datetime

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from shared.jobs import schedule
from shared.jobs.spec import CronSpec
from shared.ops import keys
from shared.ops.batch import Batch, decoded_hash, int_of
from shared.ops.clock import at, now_ms
from shared.ops.control_schemas import CronRun, CronsView, CronView
from shared.ops.keys import Outcome


class CronField:
    """The fields of guildhall:cron:<function>."""

    job_id = "job_id"
    outcome = "outcome"
    started_ms = "started_ms"
    finished_ms = "finished_ms"
    duration_ms = "duration_ms"
    worker = "worker"
    error_type = "error_type"
    error_message = "error_message"
    last_complete_ms = "last_complete_ms"
    last_failed_ms = "last_failed_ms"


def queue_last_run(
    pipe: Pipeline,
    job_id: str,
    outcome: Outcome,
    *,
    started_ms: int,
    finished_ms: int,
    worker: str,
    error: dict[str, str] | None,
) -> None:
    """Queue, on the job-end hook's pipeline, a cron run's record as its function's last run."""
    function = keys.cron_function(job_id)
    if function is None:
        return
    error = error or {}
    fields: dict[str, str | int] = {
        CronField.job_id: job_id,
        CronField.outcome: outcome.value,
        CronField.started_ms: started_ms,
        CronField.finished_ms: finished_ms,
        CronField.duration_ms: max(0, finished_ms - started_ms),
        CronField.worker: worker,
        # Emptied by a run that did not fail: the error shown is always the last run's.
        CronField.error_type: error.get(keys.RecordField.error_type, ""),
        CronField.error_message: error.get(keys.RecordField.error_message, ""),
    }
    if outcome == Outcome.complete:
        fields[CronField.last_complete_ms] = finished_ms
    elif outcome == Outcome.failed:
        fields[CronField.last_failed_ms] = finished_ms
    pipe.hset(keys.cron_run(function), mapping=fields)


def _function(spec: CronSpec) -> str:
    return spec.function.__qualname__


def _last_run(fields: dict[str, str]) -> CronRun | None:
    if CronField.job_id not in fields:
        return None
    return CronRun(
        job_id=fields[CronField.job_id],
        outcome=fields.get(CronField.outcome, "?"),
        started_at=at(int_of(fields.get(CronField.started_ms))),
        finished_at=at(int_of(fields.get(CronField.finished_ms))),
        duration_ms=int_of(fields.get(CronField.duration_ms)),
        worker=fields.get(CronField.worker) or None,
        error_type=fields.get(CronField.error_type) or None,
        error_message=fields.get(CronField.error_message) or None,
    )


async def read_crons(redis: Redis, specs: Iterable[CronSpec], *, now: int | None = None) -> CronsView:
    """Every cron of `specs` (the registry's, shared.jobs.registry.crons()), in their order."""
    specs = list(specs)
    now = now or now_ms()
    batch = Batch(redis)
    for spec in specs:
        batch("cron", _function(spec)).hgetall(keys.cron_run(_function(spec)))
    queues = sorted({spec.queue.value for spec in specs})
    for queue in queues:
        batch("paused", queue).exists(keys.paused(queue))
    replies = await batch.execute()
    paused = {queue for queue in queues if replies["paused", queue]}
    moment = at(now) or datetime.now(UTC)
    crons = []
    for spec in specs:
        fields = decoded_hash(replies["cron", _function(spec)])
        crons.append(
            CronView(
                function=_function(spec),
                queue=spec.queue.value,
                schedule=schedule.described(spec),
                every_seconds=spec.every_seconds,
                timeout_seconds=spec.timeout_seconds,
                paused=spec.queue.value in paused,
                last_run=_last_run(fields),
                last_complete_at=at(int_of(fields.get(CronField.last_complete_ms))),
                last_failed_at=at(int_of(fields.get(CronField.last_failed_ms))),
                next_run_at=schedule.next_run(spec, moment),
            )
        )
    return CronsView(generated_at=moment, crons=crons)
