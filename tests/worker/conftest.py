"""Job tests: the real arq Worker, in-process (burst mode), on the real Redis and PostgreSQL.

The worker's sessions are bound to the test's connection in savepoint mode: each job
still commits or rolls back as one unit, and the test's outer transaction undoes it all.
Jobs run one at a time here (max_jobs=1): they share that one connection.
"""

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import pytest
from arq import ArqRedis
from arq.worker import Worker
from sqlalchemy.ext.asyncio import AsyncConnection, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from services.worker.main import BulkWorkerSettings, WorkerSettings
from shared.jobs.queues import Queue, create_job_pool
from shared.jobs.serialization import deserialize, serialize
from shared.settings import get_settings
from tests.conftest import redis_url_for_tests

RunWorker = Callable[[Queue], Awaitable[Worker]]


@pytest.fixture
async def job_pool() -> AsyncIterator[ArqRedis]:
    """An arq client on the test Redis DB index; every arq/guildhall key there is removed after."""
    pool = create_job_pool(redis_url_for_tests())
    yield pool
    for pattern in ("arq:*", "guildhall:*"):
        keys = [key async for key in pool.scan_iter(match=pattern, count=1000)]
        if keys:
            await pool.delete(*keys)
    await pool.aclose()


@pytest.fixture
def worker_ctx(connection: AsyncConnection, job_pool: ArqRedis) -> dict[str, Any]:
    """The ctx a job sees (as services.worker.context.startup builds it), on the test's connection."""
    factory = async_sessionmaker(
        bind=connection, class_=AsyncSession, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    return {"settings": get_settings(), "session_factory": factory, "redis": job_pool}


@pytest.fixture
def run_worker(worker_ctx: dict[str, Any], job_pool: ArqRedis) -> RunWorker:

    async def run(queue: Queue) -> Worker:
        settings_class = WorkerSettings if queue == Queue.short else BulkWorkerSettings
        functions: Sequence[Any] = settings_class.functions
        worker = Worker(
            functions=functions,
            queue_name=queue,
            redis_pool=job_pool,
            burst=True,
            max_jobs=1,
            poll_delay=0,
            handle_signals=False,
            job_serializer=serialize,
            job_deserializer=deserialize,
            ctx={key: value for key, value in worker_ctx.items() if key != "redis"},
        )
        await worker.main()
        return worker

    return run
