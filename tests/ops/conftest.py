"""Ops test harness: the production worker (burst mode, in-process, real Redis) with every hook,
running small test job functions that succeed, fail, ask for a retry, or wait to be released,
so the queues hold jobs in every state.

The API fixtures (app, client, login) are those of tests/api/conftest.py.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from arq import ArqRedis, Retry, cron
from arq.cron import CronJob
from arq.worker import func
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from services.worker.factory import build_worker
from services.worker.resilient import ResilientWorker
from shared.jobs import progress
from shared.jobs.queues import Queue
from shared.ops.telemetry import WORKER_NAME
from tests.api.conftest import app, client, login  # noqa: F401  (fixtures shared with the API tests)

TEST_WORKER = WORKER_NAME  # the name the production start-up gives this process's workers

SHUT_DOWN = "ops_test_shut_down"  # marks a worker's ctx once its shutdown hook ran
# Released by tests that want a job to stay "in progress" while they look.
GATES: dict[str, asyncio.Event] = {}


class OpsJobFailed(RuntimeError):
    pass


async def ops_ok(ctx: dict[str, Any], value: int) -> dict[str, int]:
    return {"doubled": value * 2}


async def ops_fail(ctx: dict[str, Any], reason: str) -> None:
    raise OpsJobFailed(f"refused: {reason}")


async def ops_retry(ctx: dict[str, Any]) -> None:
    raise Retry(defer=3600)


async def ops_wait(ctx: dict[str, Any], gate: str) -> str:
    await progress.report(ctx["redis"], ctx["job_id"], 3, 10)
    await GATES[gate].wait()
    return gate


TEST_FUNCTIONS = [func(ops_ok), func(ops_fail), func(ops_retry, max_tries=5), func(ops_wait)]


async def ops_sweep(ctx: dict[str, Any]) -> dict[str, int]:
    return {"swept": 0}


def sweep_at_startup() -> CronJob:
    """A cron job (job id "cron:ops_sweep:<ms>", as the sweepers') that runs once, when its worker
    starts: its next run is at midnight on New Year's Day, so a test never sees a second one."""
    return cron(ops_sweep, month=1, day=1, hour=0, minute=0, second=0, run_at_startup=True, unique=True)


@dataclass
class OpsWorker:
    """Runs the short queue's production worker (services.worker.factory.build_worker: every hook,
    ops telemetry under this process's WORKER_NAME included) on the test functions above, in burst
    mode; start() returns while jobs may still run."""

    pool: ArqRedis
    queue: Queue = Queue.short
    workers: list[ResilientWorker] = field(default_factory=list)
    # Put in each worker's ctx after its start-up (a job history recorder on the test's connection).
    ctx: dict[str, Any] = field(default_factory=dict)
    functions: list[Any] = field(default_factory=lambda: list(TEST_FUNCTIONS))

    def build(self, max_jobs: int, *, sweeps: bool = False) -> ResilientWorker:
        worker = build_worker(
            self.queue,
            redis=self.pool,
            burst=True,
            functions=self.functions,
            **({"ctx": dict(self.ctx)} if self.ctx else {}),
            # Only the test's own cron job: the production sweepers would run at start-up too.
            cron_jobs=[sweep_at_startup()] if sweeps else (),
            max_burst_jobs=max_jobs,
            max_jobs=10,
            poll_delay=0,
            keep_result=3600,
        )
        self.workers.append(worker)
        return worker

    async def run(self, jobs: int) -> ResilientWorker:
        """Until `jobs` jobs have started and ended (burst), then shut down (heartbeat stopped)."""
        worker = self.build(jobs)
        await worker.main()
        await shut_down(worker)
        return worker

    async def sweep(self) -> ResilientWorker:
        """One cron run (sweep_at_startup), in a burst of its own: call it with no other job due. Its
        worker enqueues the run at its first poll and runs it at the next; with other jobs in the same
        burst, arq's burst limit may stop it first (it can count a job that just ended twice)."""
        worker = self.build(1, sweeps=True)
        await worker.main()
        await shut_down(worker)
        assert worker.jobs_complete == 1, worker
        return worker


async def shut_down(worker: ResilientWorker) -> None:
    """The worker's shutdown hook, once, if its start-up ran (it opened the engine the hook disposes).
    Not arq's close(): that would also close the pool, which is the test's."""
    if worker.on_shutdown is not None and "engine" in worker.ctx and not worker.ctx.get(SHUT_DOWN):
        worker.ctx[SHUT_DOWN] = True
        await worker.on_shutdown(worker.ctx)


@pytest.fixture
async def ops_worker(job_pool: ArqRedis) -> AsyncIterator[OpsWorker]:
    runner = OpsWorker(job_pool)
    yield runner
    for worker in runner.workers:
        await shut_down(worker)


@dataclass
class RedisCalls:
    round_trips: int = 0
    commands: int = 0
    names: list[str] = field(default_factory=list)


class CountingPipeline(Pipeline):
    calls: RedisCalls

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        self.calls.round_trips += 1
        self.calls.commands += len(self.command_stack)
        self.calls.names += [str(args[0]) for args, _options in self.command_stack]
        return await super().execute(raise_on_error)


class CountingRedis(ArqRedis):
    """A real client that counts what it sends: round trips, and commands (pipelined ones included)."""

    calls: RedisCalls

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        self.calls.round_trips += 1
        self.calls.commands += 1
        self.calls.names.append(str(args[0]))
        return await super().execute_command(*args, **options)

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> CountingPipeline:  # type: ignore[override]
        pipe = CountingPipeline(self.connection_pool, self.response_callbacks, transaction, shard_hint)
        pipe.calls = self.calls
        return pipe


@pytest.fixture
async def counting_redis(job_pool: ArqRedis) -> AsyncIterator[CountingRedis]:
    counting = CountingRedis(connection_pool=job_pool.connection_pool)
    counting.calls = RedisCalls()
    yield counting


async def wait_until(check: Callable[[], Awaitable[Any]], *, within: float = 10.0) -> None:
    """Poll Redis (state another task or process changes) until `check` holds."""
    async with asyncio.timeout(within):
        while not await check():  # noqa: ASYNC110  (the state is in Redis: there is no event to wait on)
            await asyncio.sleep(0.02)


# What each key holds, by type, in a form whose equality means "same content": a hash as a dict, a
# set as a frozenset, a sorted set as (member, score) pairs in order. Never DUMP bytes: Redis rehashes a
# large hash incrementally, and lookups (HGET, HGETALL) advance that rehash, so a pure read may change
# the field order DUMP serializes without changing the hash.
_READ_BY_TYPE: dict[bytes, Callable[[Pipeline, bytes], Any]] = {
    b"string": lambda pipe, key: pipe.get(key),
    b"hash": lambda pipe, key: pipe.hgetall(key),
    b"list": lambda pipe, key: pipe.lrange(key, 0, -1),
    b"set": lambda pipe, key: pipe.smembers(key),
    b"zset": lambda pipe, key: pipe.zrange(key, 0, -1, withscores=True),
    b"stream": lambda pipe, key: pipe.xrange(key, "-", "+"),
}


@dataclass(frozen=True)
class KeyState:
    type: bytes
    expires_at_ms: int  # PEXPIRETIME: the absolute expiry (-1 for none), so time passing changes nothing
    content: Any


async def snapshot_keys(redis: Redis) -> dict[bytes, KeyState]:
    """Every key of the test DB index: its type, absolute expiry time and logical content (Redis 7+)."""
    keys = sorted([key async for key in redis.scan_iter(count=1000)])
    async with redis.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.type(key)
            pipe.execute_command("PEXPIRETIME", key)
        meta = await pipe.execute()
    types, expiries = meta[0::2], meta[1::2]
    unknown = {t for t in types if t not in _READ_BY_TYPE}
    assert not unknown, f"snapshot cannot compare keys of type {unknown}"
    async with redis.pipeline(transaction=False) as pipe:
        for key, key_type in zip(keys, types, strict=True):
            _READ_BY_TYPE[key_type](pipe, key)
        contents = await pipe.execute()
    return {
        key: KeyState(key_type, expiry, frozenset(content) if key_type == b"set" else content)
        for key, key_type, expiry, content in zip(keys, types, expiries, contents, strict=True)
    }
