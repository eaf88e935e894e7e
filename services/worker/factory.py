"""One way to build a worker: `build_worker(queue)` is the worker `guildhall worker --queue ...` runs,
and the one the tests run in-process, with every hook the service has:

- start-up and shutdown (services.worker.context: the engine, the session factory, the settings);
- on_job_start and after_job_end (a try's start record, per-function counts and durations);
- ops telemetry (the worker's health entry and heartbeat, started by its start-up hook);
- quiet logs (cron runs and arq's health line at DEBUG, refusals in one line: ResilientWorker);
- leases (a crashed job comes back within `job_lease_seconds`: ResilientWorker).

Everything else is the queue's WorkerSettings (services.worker.main). `overrides` are arq Worker
arguments (or ResilientWorker's `lease_seconds`) and win over the settings: a test passes its own
`functions`, `queue_name`, `max_jobs` or `ctx`, never a different set of hooks by omission.
"""

from collections.abc import Awaitable, Callable
from typing import Any

from arq import ArqRedis
from arq.worker import get_kwargs

from services.worker.main import settings_class
from services.worker.resilient import ResilientWorker
from shared.jobs.context import Ctx
from shared.jobs.queues import Queue, create_worker_pool
from shared.redis_connect import RedisTarget
from shared.settings import get_settings

StartupShutdown = Callable[[Ctx], Awaitable[None]]


def _keeping(given: Ctx, startup: StartupShutdown) -> StartupShutdown:
    """The start-up hook, then what the caller put in ctx again on top: a test's session factory
    bound to its own connection must not be replaced by the one start-up opens."""

    async def on_startup(ctx: Ctx) -> None:
        await startup(ctx)
        ctx.update(given)

    return on_startup


def build_worker(
    queue: Queue, *, redis: ArqRedis | None = None, burst: bool = False, **overrides: Any
) -> ResilientWorker:
    """The worker of `queue`. `redis`: its client (default: a worker client on the settings' Redis,
    shared.jobs.queues.create_worker_pool, whose socket timeout arq's own settings cannot express).
    `burst`: run until the queue is empty, then return, without handling signals (in-process runs)."""
    settings = get_settings()
    options: dict[str, Any] = {
        **get_kwargs(dict(vars(settings_class(queue)))),
        "burst": burst,
        "lease_seconds": settings.job_lease_seconds,
    }
    if burst:  # in-process, under the caller's event loop: its signals are the caller's
        options["handle_signals"] = False
    options.update(overrides)
    options["redis_pool"] = redis if redis is not None else create_worker_pool(RedisTarget.from_settings(settings))
    given: Ctx | None = overrides.get("ctx")
    if given and options.get("on_startup") is not None:
        options["on_startup"] = _keeping(dict(given), options["on_startup"])
    return ResilientWorker(**options)
