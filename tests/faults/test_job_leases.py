"""Job leases (services.worker.resilient): a job running on a live worker is never started again by
another worker, however long it runs past its lease, because its worker keeps renewing the lease;
a job whose worker is gone without a word is taken over once the lease lapses, not after the job
timeout. Private redis-server; two in-process workers on one queue."""

import asyncio
import contextlib
import gc
from typing import Any

import pytest
from arq.worker import func

from services.worker.factory import build_worker
from services.worker.resilient import ResilientWorker
from shared.jobs.queues import Queue, create_job_pool, create_worker_pool
from tests.faults.conftest import RedisServer

# Workers are stopped mid-job here on purpose: redis-py transports they leave are reported
# "unclosed" when collected (collected below, inside this test, so no other test sees them).
pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")

QUEUE = "guildhall:leases"
STARTS: list[int] = []
RELEASE = asyncio.Event()


async def long_job(ctx: dict[str, Any]) -> str:
    STARTS.append(ctx["job_try"])
    await asyncio.wait_for(RELEASE.wait(), timeout=30)
    return "done"


def worker(server: RedisServer, lease: float) -> ResilientWorker:
    """The short queue's production worker (every hook), running only long_job, on its own queue."""
    return build_worker(
        Queue.short,
        redis=create_worker_pool(server.url),
        functions=[func(long_job, name="long_job", timeout=600)],  # arq alone would hold it for 610 s
        cron_jobs=(),  # the sweepers would sweep the settings' database, not this test's servers
        queue_name=QUEUE,
        lease_seconds=lease,
        poll_delay=0.05,
        handle_signals=False,
        max_tries=3,
    )


async def stop(*workers: ResilientWorker) -> None:
    for each in workers:
        with contextlib.suppress(BaseException):
            async with asyncio.timeout(10):
                await each.close()
        with contextlib.suppress(BaseException):
            await each.pool.aclose()
    gc.collect()


async def test_a_job_running_on_a_live_worker_is_never_started_twice(redis_server: RedisServer) -> None:
    STARTS.clear()
    RELEASE.clear()
    client = create_job_pool(redis_server.url)
    first, second = worker(redis_server, lease=0.6), worker(redis_server, lease=0.6)
    tasks = [asyncio.create_task(first.main())]
    try:
        job = await client.enqueue_job("long_job", _queue_name=QUEUE)
        assert job is not None
        async with asyncio.timeout(10):
            while not STARTS:  # noqa: ASYNC110  (the first worker starts it)
                await asyncio.sleep(0.02)
        tasks.append(asyncio.create_task(second.main()))
        await asyncio.sleep(3)  # five leases long, the second worker polling all along
        assert STARTS == [1], "a job running on a live worker was started again"
        RELEASE.set()
        assert await job.result(timeout=10, poll_delay=0.05) == "done"
    finally:
        RELEASE.set()
        for task in tasks:
            task.cancel()
        await stop(first, second)
        await client.aclose()


async def test_a_job_whose_worker_died_is_taken_over_once_its_lease_lapses(redis_server: RedisServer) -> None:
    """As a killed worker leaves it: the job queued, its in-progress key set for one lease, nobody
    renewing it. Another worker starts it once the lease lapses (arq alone: 610 s for this job)."""
    STARTS.clear()
    RELEASE.set()  # this time the job ends at once
    client = create_job_pool(redis_server.url)
    job = await client.enqueue_job("long_job", _queue_name=QUEUE)
    assert job is not None
    await client.psetex(f"arq:in-progress:{job.job_id}", 600, b"1")  # the dead worker's claim: 0.6 s left
    survivor = worker(redis_server, lease=0.6)
    task = asyncio.create_task(survivor.main())
    try:
        await asyncio.sleep(0.3)
        assert STARTS == [], "started while the dead worker's lease still held"
        assert await job.result(timeout=10, poll_delay=0.05) == "done"
        assert len(STARTS) == 1
    finally:
        task.cancel()
        await stop(survivor)
        await client.aclose()
