"""What every job finds in arq's ctx: the engine, the session factory and the settings,
opened at worker start-up and disposed at shutdown."""

import logging
from collections.abc import Awaitable, Callable

from redis.exceptions import RedisError

from services.worker import telemetry
from shared.db import WaitLimits, create_engine, create_session_factory
from shared.jobs import progress
from shared.jobs.context import Ctx, settings_of, transaction
from shared.jobs.queues import Queue
from shared.ops import keys
from shared.ops.clock import now_ms
from shared.ops.recorder import HistoryRecorder
from shared.ops.telemetry import WORKER_NAME
from shared.settings import get_settings

logger = logging.getLogger(__name__)


async def startup(ctx: Ctx, queue: str = Queue.short) -> None:
    settings = get_settings()
    ctx["settings"] = settings
    # A job's statements may run as long as the job itself; its lock waits have their own bound.
    job_timeout = settings.bulk_job_timeout_seconds if queue == Queue.bulk else settings.short_job_timeout_seconds
    ctx["engine"] = create_engine(settings, limits=WaitLimits.for_jobs(settings, job_timeout))
    ctx["session_factory"] = create_session_factory(ctx["engine"])


def startup_for(queue: str) -> Callable[[Ctx], Awaitable[None]]:
    """The on_startup of one queue's worker: the ctx above, then its ops telemetry (health entry,
    heartbeat), which needs to know the queue the worker serves (arq does not put it in ctx)."""

    async def startup_with_telemetry(ctx: Ctx) -> None:
        await startup(ctx, queue)
        await telemetry.start(ctx, queue, name=WORKER_NAME)
        if ctx["settings"].job_history:  # every try in PostgreSQL, in batches (shared.ops.recorder)
            ctx[telemetry.HISTORY] = HistoryRecorder(ctx["session_factory"])

    return startup_with_telemetry


async def shutdown(ctx: Ctx) -> None:
    await telemetry.stop(ctx)
    if (recorder := ctx.get(telemetry.HISTORY)) is not None:
        await recorder.close()  # the last runs, before the engine goes
    await ctx["engine"].dispose()


async def on_job_start(ctx: Ctx) -> None:
    """Record when this try started and on which worker (arq itself keeps neither).
    Cron runs (every few seconds) are left out: their records would only pile up."""
    await telemetry.job_started(ctx)
    if keys.is_cron(ctx["job_id"]):
        return
    try:
        await progress.started(
            ctx["redis"], ctx["job_id"], started_ms=now_ms(), job_try=ctx["job_try"], worker=WORKER_NAME
        )
    except RedisError as error:  # a record for people: never a reason not to run the job
        logger.warning("could not record the start of %s: %r", ctx["job_id"], error)


async def after_job_end(ctx: Ctx) -> None:
    """Once arq has stored the outcome: per-function counts, durations, throughput, recent lists."""
    await telemetry.job_ended(ctx)


__all__ = [
    "WORKER_NAME",
    "Ctx",
    "after_job_end",
    "on_job_start",
    "settings_of",
    "shutdown",
    "startup",
    "startup_for",
    "transaction",
]
