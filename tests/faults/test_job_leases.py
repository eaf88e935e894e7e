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

from services.worker.resilient import ResilientWorker
from shared.jobs.queues import create_job_pool, create_worker_pool
from shared.jobs.serialization import deserialize, serialize
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
    return ResilientWorker(
        functions=[func(long_job, name="long_job", timeout=600)],  # arq alone would hold it for 610 s
        queue_name=QUEUE,
        redis_pool=create_worker_pool(server.url),
        lease_seconds=lease,
        poll_delay=0.05,
        handle_signals=False,
        job_serializer=serialize,
        job_deserializer=deserialize,
        max_tries=3,
    )


async def test_a_live_workers_job_is_never_started_twice_and_a_dead_workers_job_is_taken_over(
    redis_server: RedisServer,
) -> None:
    STARTS.clear()
    RELEASE.clear()
    client = create_job_pool(redis_server.url)
    first, second = worker(redis_server, lease=0.6), worker(redis_server, lease=0.6)
    first_task = asyncio.create_task(first.main())
    try:
        job = await client.enqueue_job("long_job", _queue_name=QUEUE)
        assert job is not None
        async with asyncio.timeout(10):
            while not STARTS:  # noqa: ASYNC110  (the first worker starts it)
                await asyncio.sleep(0.02)
        second_task = asyncio.create_task(second.main())
        await asyncio.sleep(3)  # five leases long: the second worker polls all along
        assert STARTS == [1], "a job running on a live worker was started again"

        # The first worker stops renewing without a word (its loop and its lease renewals end; the job
        # itself is left hanging, as in a frozen or killed process): nothing is cleaned up in Redis.
        first_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await first_task
        async with asyncio.timeout(10):  # one lease and a poll, not 610 s
            while len(STARTS) < 2:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        assert STARTS == [1, 2]
        RELEASE.set()
        assert await job.result(timeout=10, poll_delay=0.05) == "done"
        second_task.cancel()
    finally:
        RELEASE.set()
        for each in (first, second):
            with contextlib.suppress(BaseException):
                await each.close()
            with contextlib.suppress(BaseException):
                await each.pool.aclose()
        await client.aclose()
        gc.collect()
