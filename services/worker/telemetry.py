"""The worker's ops telemetry as arq hooks: start (health entry and a heartbeat task), stop, and a
job's start and end. What they write, and where, is shared/ops/telemetry.py's (beside the readers).

Telemetry never fails a job: Redis errors here are logged.
"""

import asyncio
import contextlib
import logging
from collections.abc import Iterator

from redis.asyncio import Redis

from shared.jobs.context import Ctx
from shared.models.jobs import RunStatus
from shared.ops import keys
from shared.ops.clock import now_ms
from shared.ops.keys import RecordField
from shared.ops.recorder import HistoryRecorder, RunRecord
from shared.ops.telemetry import (
    WORKER_NAME,
    EndedTry,
    WorkerTelemetry,
    heartbeat,
    record_outcome,
    record_start,
)

logger = logging.getLogger(__name__)

TELEMETRY = "telemetry"
HISTORY = "job_history"  # the worker's HistoryRecorder (services.worker.context), when history is on
STARTED_MS = "telemetry_started_ms"

__all__ = ["TELEMETRY", "WorkerTelemetry", "heartbeat", "job_ended", "job_started", "start", "stop"]


async def start(
    ctx: Ctx, queue: str, *, name: str | None = None, heartbeat_seconds: float = keys.HEARTBEAT_SECONDS
) -> WorkerTelemetry:
    """Register this worker and start its heartbeat (call from the worker's on_startup)."""
    telemetry = WorkerTelemetry(name=name or WORKER_NAME, queue=queue, heartbeat_seconds=heartbeat_seconds)
    ctx[TELEMETRY] = telemetry
    await heartbeat(ctx["redis"], telemetry)
    telemetry.task = asyncio.create_task(_beat_forever(ctx["redis"], telemetry), name=f"heartbeat {telemetry.name}")
    return telemetry


async def stop(ctx: Ctx) -> None:
    """Stop the heartbeat and mark this worker stopped (it stays listed, as stopped, for a while)."""
    telemetry: WorkerTelemetry | None = ctx.get(TELEMETRY)
    if telemetry is None:
        return
    if telemetry.task is not None:
        telemetry.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await telemetry.task
    with _logged("worker stop"):
        await heartbeat(ctx["redis"], telemetry, state=keys.STOPPED)


async def _beat_forever(redis: Redis, telemetry: WorkerTelemetry) -> None:
    while True:
        await asyncio.sleep(telemetry.heartbeat_seconds)
        with _logged("heartbeat"):
            await heartbeat(redis, telemetry)


@contextlib.contextmanager
def _logged(what: str) -> Iterator[None]:
    """Telemetry is best effort: a Redis hiccup here must never fail or stop a job."""
    try:
        yield
    except Exception:
        logger.warning("ops telemetry: %s failed", what, exc_info=True)


async def job_started(ctx: Ctx) -> None:
    telemetry: WorkerTelemetry | None = ctx.get(TELEMETRY)
    if telemetry is None:
        return
    ctx[STARTED_MS] = started = now_ms()
    with _logged("job start"):
        await record_start(ctx["redis"], telemetry, ctx["job_id"], started)


async def job_ended(ctx: Ctx) -> None:
    telemetry: WorkerTelemetry | None = ctx.get(TELEMETRY)
    if telemetry is None:
        return
    with _logged("job end"):
        ended = await record_outcome(
            ctx["redis"], telemetry, ctx["job_id"], job_try=ctx["job_try"], started_ms=ctx.get(STARTED_MS)
        )
        recorder: HistoryRecorder | None = ctx.get(HISTORY)
        if recorder is not None:  # buffered: the recorder writes it within a second, in a batch
            recorder.add(run_record(ctx, telemetry, ended))


def run_record(ctx: Ctx, telemetry: WorkerTelemetry, ended: EndedTry) -> RunRecord:
    """The job history's row of a try that ended (its wait: from when it was due, arq's score)."""
    job_id: str = ctx["job_id"]
    started = ended.started_ms or ctx.get(STARTED_MS) or ended.ended_ms - ended.duration_ms
    finished = ended.entry.get("finished_ms") if ended.entry else None
    score = ctx.get("score")
    error = ended.error or {}
    return RunRecord(
        job_id=job_id,
        function=ended.function,
        queue=telemetry.queue,
        attempt=int(ctx.get("job_try") or 1),
        status=RunStatus(ended.outcome.value),
        enqueued_ms=ended.enqueued_ms,
        started_ms=int(started),
        ended_ms=int(finished or ended.ended_ms),
        duration_ms=ended.duration_ms,
        wait_ms=max(0, int(started) - int(score)) if score else None,
        worker=telemetry.name,
        args_preview=ended.args_preview,
        error_type=error.get(RecordField.error_type),
        error_message=error.get(RecordField.error_message),
        cron=keys.is_cron(job_id),
    )
