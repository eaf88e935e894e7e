"""Job tests use the worker fixtures of tests/conftest.py (job_pool, worker_ctx), and run_worker
below: the production worker of a queue (services.worker.factory.build_worker, every hook), in
burst mode, on the test's Redis and on the test's connection."""

from typing import Any

import pytest
from arq import ArqRedis

from services.worker.factory import build_worker
from services.worker.resilient import ResilientWorker
from shared.jobs.queues import Queue
from tests.conftest import RunWorker


@pytest.fixture
def run_worker(worker_ctx: dict[str, Any], job_pool: ArqRedis) -> RunWorker:
    """Run `queue`'s worker until its queue is empty. One job at a time (max_jobs=1): the jobs share
    the test's one connection. No cron jobs: the tests call the sweepers themselves, when they
    mean to (one at start-up would sweep rows a test is still looking at)."""

    async def run(queue: Queue) -> ResilientWorker:
        worker = build_worker(
            queue,
            redis=job_pool,
            burst=True,
            max_jobs=1,
            poll_delay=0,
            cron_jobs=(),
            ctx={key: value for key, value in worker_ctx.items() if key != "redis"},
        )
        try:
            await worker.main()
        finally:
            # arq's close() would also close the pool, which is the test's: only the shutdown hook
            # (the heartbeat stopped, the start-up's engine disposed).
            if worker.on_shutdown is not None:
                await worker.on_shutdown(worker.ctx)
        return worker

    return run
