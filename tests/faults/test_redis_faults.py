"""Workers outlive every kind of Redis fault, not only a lost connection: out of memory, a read-only
replica, a script running too long (BUSY), a server that stops answering (timeouts), a restart
while it loads its data. During each, the worker logs and backs off; after it, every job queued
before or during the fault runs. Each test owns its redis-server (tests/faults/conftest.py).

The worker is the real ResilientWorker with the real worker client (create_worker_pool) and the
real ops telemetry; its job is a trivial one, because what is under test is the loop, not a job.
"""

import asyncio
import contextlib
import gc
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from arq import ArqRedis
from arq.worker import func

from services.worker import telemetry
from services.worker.factory import build_worker
from services.worker.resilient import ResilientWorker
from shared.jobs.queues import Queue, create_job_pool, create_worker_pool
from shared.ops.inspect import read_summary
from shared.ops.schemas import WorkerState
from tests.faults.conftest import RedisServer

# Servers here are stopped, blocked and demoted under live connections: redis-py's asyncio
# transports that the server dropped are reported "unclosed" when collected. Not a leak of ours.
pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")

QUEUE = "guildhall:faults"
DONE: set[int] = set()


async def note(ctx: dict[str, Any], n: int) -> int:
    DONE.add(n)
    return n


async def start_telemetry(ctx: dict[str, Any]) -> None:
    await telemetry.start(ctx, QUEUE, name="faults-test:1", heartbeat_seconds=0.2)


async def stop_telemetry(ctx: dict[str, Any]) -> None:
    await telemetry.stop(ctx)


class Harness:
    def __init__(self, server: RedisServer) -> None:
        self.server = server
        self.client: ArqRedis = create_job_pool(server.url)
        # The short queue's production worker (every hook but start-up and shutdown, whose telemetry
        # here beats every 0.2 s under a name of its own), running only `note`, on its own queue.
        self.worker: ResilientWorker = build_worker(
            Queue.short,
            redis=create_worker_pool(server.url, socket_timeout=0.5),
            functions=[func(note, name="note")],
            cron_jobs=(),  # the sweepers would sweep the settings' database, not this test's servers
            queue_name=QUEUE,
            poll_delay=0.05,
            max_jobs=10,
            keep_result=60,
            health_check_interval=1,
            handle_signals=False,
            on_startup=start_telemetry,
            on_shutdown=stop_telemetry,
        )
        self.task: asyncio.Task[None] | None = None
        self.next = 0

    async def enqueue(self, count: int, *, defer_by: float | None = None) -> set[int]:
        numbers = set(range(self.next, self.next + count))
        self.next += count
        for n in numbers:
            assert await self.client.enqueue_job("note", n, _queue_name=QUEUE, _defer_by=defer_by) is not None
        return numbers

    async def all_done(self, numbers: set[int], within: float = 60) -> None:
        async with asyncio.timeout(within):
            while not numbers <= DONE:
                assert self.task is not None and not self.task.done(), "the worker exited"
                await asyncio.sleep(0.05)


@pytest.fixture
async def harness(redis_server: RedisServer) -> AsyncIterator[Harness]:
    DONE.clear()
    harness = Harness(redis_server)
    harness.task = asyncio.create_task(harness.worker.main())
    try:
        await harness.all_done(await harness.enqueue(3))  # up and working before any fault
        yield harness
    finally:
        harness.task.cancel()
        # Bounded: a teardown must never be what hangs the suite.
        for step in (lambda: harness.task, harness.worker.close, harness.worker.pool.aclose, harness.client.aclose):
            with contextlib.suppress(BaseException):
                async with asyncio.timeout(10):
                    await step()
        gc.collect()  # what the stopped servers left behind is reported here, where it is filtered


async def ride_out(
    harness: Harness,
    inject: Callable[[], Awaitable[None]],
    clear: Callable[[], Awaitable[None]],
    *,
    reaches_the_loop: bool = True,
    hold: float = 1.5,
) -> None:
    """Queue jobs that fall due during the fault, hold the fault, end it; every job must then run.
    `reaches_the_loop`: the fault outlasts a command's own retries, so the loop itself must see it."""
    before = await harness.enqueue(5, defer_by=0.3)
    faults = harness.worker.redis_faults
    await inject()
    await asyncio.sleep(hold)  # the worker polls (and fails) a few dozen times
    assert harness.task is not None and not harness.task.done(), "the worker exited during the fault"
    await clear()
    after = await harness.enqueue(5)
    await harness.all_done(before | after)
    if reaches_the_loop:
        assert harness.worker.redis_faults > faults, "the fault never reached the worker's loop"


async def test_out_of_memory(harness: Harness, redis_server: RedisServer) -> None:
    admin = redis_server.client()

    async def inject() -> None:
        admin.config_set("maxmemory", 1)  # noeviction: every write is refused with OOM

    async def clear() -> None:
        admin.config_set("maxmemory", 0)

    await ride_out(harness, inject, clear)


async def test_a_read_only_replica(harness: Harness, redis_server: RedisServer) -> None:
    admin = redis_server.client()

    async def inject() -> None:
        admin.execute_command("REPLICAOF", "127.0.0.1", "1")  # a master that is not there: writes are READONLY

    async def clear() -> None:
        admin.execute_command("REPLICAOF", "NO", "ONE")

    # READONLY drops the connection and is retried inside each command, as a lost connection is
    # (shared.redis_connect: the node was demoted, a reconnect may reach the new master); held
    # past those retries (about 1.5 s), it reaches the loop, which must ride it out too.
    await ride_out(harness, inject, clear, hold=4.0)


async def test_a_busy_script(harness: Harness, redis_server: RedisServer) -> None:
    admin = redis_server.client()
    admin.config_set("busy-reply-threshold", 100)  # others get BUSY after 100 ms of script
    spinning = threading.Thread(
        target=lambda: redis_server.client().eval(
            "local t0 = redis.call('TIME') repeat local t = redis.call('TIME') "
            "until (t[1] - t0[1]) * 1000000 + (t[2] - t0[2]) > 1800000 return 1",
            0,
        )
    )

    async def inject() -> None:
        spinning.start()

    async def clear() -> None:
        await asyncio.to_thread(spinning.join)

    await ride_out(harness, inject, clear)


async def test_a_server_that_stops_answering(harness: Harness, redis_server: RedisServer) -> None:
    # Longer than a command's own retries (5, each timing out after 0.5 s here), so the timeouts
    # reach the poll loop; a shorter stall is absorbed by those retries alone.
    sleeping = threading.Thread(target=lambda: redis_server.client().execute_command("DEBUG", "SLEEP", "6"))

    async def inject() -> None:
        sleeping.start()  # the worker's commands time out instead of hanging

    async def clear() -> None:
        await asyncio.to_thread(sleeping.join)

    await ride_out(harness, inject, clear)


async def test_a_restart_that_loads_a_large_dataset(harness: Harness, redis_server: RedisServer) -> None:
    admin = redis_server.client()
    admin.execute_command("DEBUG", "POPULATE", "1500000", "filler", "64")

    async def inject() -> None:
        admin.save()  # dump.rdb, the queued jobs included, loaded at the next start
        await asyncio.to_thread(redis_server.stop)
        await asyncio.to_thread(redis_server.start_loading)  # answers LOADING until the dataset is in

    async def clear() -> None:
        await asyncio.to_thread(redis_server.wait_until_loaded)

    # Refused connections, then LOADING answers: both are connection-class errors that a command's
    # own retries (with backoff) may absorb when the load is quick, before the loop sees them.
    await ride_out(harness, inject, clear, reaches_the_loop=False)


async def test_a_worker_whose_loop_keeps_failing_shows_as_stalled_while_its_heartbeat_is_fresh(
    harness: Harness, redis_server: RedisServer
) -> None:
    """A fault that refuses writes also refuses the heartbeat: the worker then shows as down. One
    that lets the heartbeat through but fails the poll loop shows as stalled, as of one interval."""
    admin = redis_server.client()
    admin.execute_command("REPLICAOF", "127.0.0.1", "1")
    health = harness.worker.ctx[telemetry.TELEMETRY]
    try:
        async with asyncio.timeout(10):
            while not health.faulting_since_ms:  # noqa: ASYNC110  (the worker's loop sets it)
                await asyncio.sleep(0.05)
        stamp = health.faulting_since_ms
    finally:
        admin.execute_command("REPLICAOF", "NO", "ONE")
    # The heartbeat as it is written when Redis takes it but the loop still fails (stamp kept).
    health.faulting_since_ms = stamp
    await telemetry.heartbeat(harness.client, health)
    fresh = await read_summary(harness.client, now=stamp + 100)  # failing for half an interval: running
    later = await read_summary(harness.client, now=stamp + 300)  # for 1.5 intervals (heartbeat fresh): stalled
    states = [next(w.state for w in s.workers if w.name == "faults-test:1") for s in (fresh, later)]
    assert states == [WorkerState.running, WorkerState.stalled]
