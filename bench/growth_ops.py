"""The growth benchmark's queues and sweepers: jobs queued in the arq queues of its own Redis db (no
worker runs, so they stay queued), and the cron jobs' passes, called as the worker calls them.

The queued jobs are written exactly as shared.jobs.enqueue writes one (arq's serialize_job with our
JSON serializer, PSETEX of the job key and ZADD to the queue), pipelined: 10^5 jobs in a few seconds
instead of one round trip each."""

import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from arq.constants import job_key_prefix
from arq.jobs import serialize_job
from arq.utils import timestamp_ms
from redis.asyncio import Redis
from sqlalchemy.engine import URL

from shared.db import WaitLimits, create_engine, create_session_factory
from shared.jobs import registry
from shared.jobs.context import Ctx
from shared.jobs.outbox import PROCESS_OUTBOX_MESSAGE
from shared.jobs.queues import Queue, create_worker_pool
from shared.jobs.serialization import serialize
from shared.settings import Settings

PIPELINE = 5_000
# How long a queued job's key lives (arq's default expiry is a day past its run time).
EXPIRES_MS = 86_400_000
# A queued job that waits for its retry time (a deferred one) in ten, and a bulk trigger in twenty.
DEFERRED_EVERY, BULK_EVERY = 10, 20


@dataclass(frozen=True)
class Queued:
    """Some of the jobs written: a ready one of the short queue, for the job views."""

    ready_id: str
    count: int


async def fill_queues(url: str, count: int) -> Queued:
    """Queue `count` jobs: on the short queue the outbox job (ready, or deferred by an hour), and
    every BULK_EVERY-th a bulk trigger; the queues are emptied first, so a size's count is exact."""
    now = timestamp_ms()
    ready_id = ""
    async with Redis.from_url(url) as redis:
        await redis.delete(Queue.short, Queue.bulk)
        for start in range(0, count, PIPELINE):
            pipe = redis.pipeline(transaction=False)
            for index in range(start, min(count, start + PIPELINE)):
                job_id = uuid.UUID(int=index + 1).hex  # arq's own ids are uuid4 hex: the same shape
                kwargs: dict[str, object]
                if index % BULK_EVERY == 0:
                    function, queue, kwargs = "bulk_update_heroes", Queue.bulk, {"record_id": job_id}
                else:
                    function, queue, kwargs = PROCESS_OUTBOX_MESSAGE.name, Queue.short, {"message_id": index + 1}
                score = now + 3_600_000 if index % DEFERRED_EVERY == 1 else now - index
                payload = serialize_job(function, (), kwargs, None, now, serializer=serialize)
                pipe.psetex(job_key_prefix + job_id, EXPIRES_MS, payload)
                pipe.zadd(queue, {job_id: score})
                if not ready_id and queue == Queue.short and score <= now:
                    ready_id = job_id
            await pipe.execute()
    return Queued(ready_id, count)


def worker_settings(database: URL, redis_url: str) -> Settings:
    """The settings a worker of this database and Redis db would read."""
    return Settings(
        database_url=database.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False),
        redis_url=redis_url,
        environment="development",
    )


@dataclass
class Sweepers:
    """A ctx like the short worker's (services/worker/context.py: the settings, an engine bounded
    like a job's, its session factory, arq's redis), to call each cron function directly."""

    ctx: Ctx

    @classmethod
    def open(cls, settings: Settings) -> "Sweepers":
        engine = create_engine(settings, limits=WaitLimits.for_jobs(settings, settings.short_job_timeout_seconds))
        ctx: Ctx = {
            "settings": settings,
            "engine": engine,
            "session_factory": create_session_factory(engine),
            "redis": create_worker_pool(settings.redis_url),
            "job_try": 1,
        }
        return cls(ctx)

    async def close(self) -> None:
        await self.ctx["redis"].aclose()
        await self.ctx["engine"].dispose()

    async def time_pass(self, name: str, function: Callable[[Ctx], Awaitable[Any]], repeat: int) -> "Pass":
        """Median seconds of `repeat` passes (after one untimed pass, as the cron's first run after
        start-up), and what the last pass returned."""
        self.ctx["job_id"] = f"{name}:{timestamp_ms()}"
        await function(self.ctx)
        seconds, result = [], None
        for _ in range(repeat):
            start = time.perf_counter()
            result = await function(self.ctx)
            seconds.append(time.perf_counter() - start)
        return Pass(name, statistics.median(seconds), repr(result))


@dataclass(frozen=True)
class Pass:
    name: str  # the cron's job name, cron:<function>
    seconds: float
    outcome: str


def crons() -> list[tuple[str, Callable[[Ctx], Awaitable[Any]]]]:
    """Every cron job the workers run (shared.jobs.registry: the sweepers, a retention pruner if one
    is declared), found rather than listed, so a new one is timed too."""
    return [(spec.name, spec.function) for spec in registry.crons()]
