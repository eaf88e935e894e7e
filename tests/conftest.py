"""Test harness: the real PostgreSQL and Redis of this machine, or embedded ones.

- Servers: TEST_DATABASE_URL / TEST_REDIS_URL, else DATABASE_URL / REDIS_URL, else the defaults
  when both answer (CI), else embedded servers from the wheels (guildhall/embedded; `.guildhall/test/`,
  ports 55433 and 56380), started before anything reads the settings and stopped after the run.
- A test database (`<name>_test`, or TEST_DATABASE_URL) is dropped, created and migrated
  with Alembic once per run, so every run starts from exactly what the migrations build.
- Each test runs inside an outer transaction that is rolled back; code under test may
  commit (the session turns commits into savepoint releases).
- Every relationship is lazy="raise" (tests/shared/test_models.py holds that), so a lazy
  load anywhere fails the test that triggers it.
- Redis tests use their own DB index (TEST_REDIS_URL, default db 15) and delete only
  the keys they made.
"""

import asyncio
import os

# Before anything reads settings: tests run as ENVIRONMENT=test, which needs a real secret.
os.environ.setdefault("ENVIRONMENT", "test")
os.environ.setdefault("SECRET_KEY", "test-secret-key-that-is-long-enough-0123456789")
# Workers the tests build record job history only where a test gives them a recorder on the test
# database (tests/ops/test_job_history*.py): their own engine is the settings' database, not the test's,
# and the worker tests share one connection with the jobs, which a flush must not use at the same time.
os.environ.setdefault("JOB_HISTORY", "false")
import contextlib
from urllib.parse import urlsplit

import pytest

from guildhall.embedded import EmbeddedError, EmbeddedServers, choose_servers


def embedded_servers_if_needed(stack: contextlib.ExitStack) -> tuple[EmbeddedServers, str] | None:
    """Start the test harness's embedded servers when no server is configured and the defaults do
    not answer (or GUILDHALL_EMBEDDED=1), and point DATABASE_URL and REDIS_URL at them."""
    if os.environ.get("TEST_DATABASE_URL") or os.environ.get("TEST_REDIS_URL"):
        return None
    choice = choose_servers()
    if not choice.embedded:
        return None
    servers = EmbeddedServers.for_tests()
    stack.enter_context(servers.locked())
    stack.callback(servers.stop)
    servers.start()
    os.environ["DATABASE_URL"] = servers.database_url()
    os.environ["REDIS_URL"] = servers.redis_url()
    os.environ.pop("GUILDHALL_EMBEDDED", None)  # the URLs say which servers now (for the processes tests start)
    return servers, choice.why


# At import, before the imports below: services.worker.main reads the settings as it loads.
_SERVERS_STACK = contextlib.ExitStack()
try:
    EMBEDDED_SERVERS = embedded_servers_if_needed(_SERVERS_STACK)
except EmbeddedError as error:
    _SERVERS_STACK.close()
    pytest.exit(f"test servers: {error}", returncode=2)


def pytest_report_header(config: pytest.Config) -> str:
    """Which servers the run uses, at the top of its output."""
    if EMBEDDED_SERVERS is not None:
        servers, why = EMBEDDED_SERVERS
        return servers.describe(why)
    return f"servers: {database_url_for_tests().render_as_string()}, {redis_url_for_tests()}"  # password hidden


def pytest_unconfigure(config: pytest.Config) -> None:
    _SERVERS_STACK.close()  # embedded servers stop last, after every test's processes


from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from alembic import command
from alembic.config import Config
from arq import ArqRedis
from arq.worker import Worker
from redis.asyncio import Redis
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from services.worker.context import on_job_start
from services.worker.main import BulkWorkerSettings, WorkerSettings
from services.worker.resilient import ResilientWorker
from shared.db import json_text
from shared.jobs.queues import Queue, create_job_pool
from shared.jobs.serialization import deserialize, serialize
from shared.settings import get_settings

ROOT = Path(__file__).resolve().parent.parent


def database_url_for_tests() -> URL:
    if explicit := os.environ.get("TEST_DATABASE_URL"):
        return make_url(explicit)
    url = make_url(get_settings().database_url)
    return url.set(database=f"{url.database}_test")


def redis_url_for_tests() -> str:
    """TEST_REDIS_URL, else DB index 15 of the Redis the settings name."""
    if explicit := os.environ.get("TEST_REDIS_URL"):
        return explicit
    return urlsplit(get_settings().redis_url)._replace(path="/15").geturl()


def alembic_config(url: URL) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["database_url"] = url.render_as_string(hide_password=False)
    config.attributes["configure_logger"] = False
    return config


async def recreate_database(url: URL) -> None:
    """Drop and create `url`'s database through the server's `postgres` database."""
    admin = await asyncpg.connect(
        host=url.host, port=url.port or 5432, user=url.username, password=url.password, database="postgres"
    )
    try:
        name = '"' + (url.database or "").replace('"', '""') + '"'
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()


@pytest.fixture(scope="session")
def database_url() -> Iterator[URL]:
    """The migrated test database. Sync on purpose: migrations/env.py runs its own event loop."""
    url = database_url_for_tests()
    asyncio.run(recreate_database(url))
    command.upgrade(alembic_config(url), "head")
    yield url


@pytest.fixture(scope="session")
async def engine(database_url: URL) -> AsyncIterator[AsyncEngine]:
    # The production engine's JSON codec (shared.db): what the tests write and read is what the service would.
    engine = create_async_engine(
        database_url, pool_size=5, max_overflow=5, json_serializer=json_text, json_deserializer=orjson.loads
    )
    yield engine
    await engine.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    async with engine.connect() as connection:
        transaction = await connection.begin()
        try:
            yield connection
        finally:
            await transaction.rollback()


@pytest.fixture
async def session(connection: AsyncConnection) -> AsyncIterator[AsyncSession]:
    session = AsyncSession(
        bind=connection,
        expire_on_commit=False,
        autoflush=False,
        join_transaction_mode="create_savepoint",
    )
    try:
        yield session
    finally:
        await session.close()


@dataclass
class StatementLog:
    """SQL statements sent to PostgreSQL while recording (savepoint bookkeeping excluded)."""

    statements: list[str] = field(default_factory=list)
    recording: bool = False

    @property
    def count(self) -> int:
        return len(self.statements)

    @contextmanager
    def record(self) -> Iterator["StatementLog"]:
        self.statements.clear()
        self.recording = True
        try:
            yield self
        finally:
            self.recording = False


@pytest.fixture
def statements(engine: AsyncEngine) -> Iterator[StatementLog]:
    log = StatementLog()

    def on_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if log.recording and not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO")):
            log.statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", on_execute)
    yield log
    event.remove(engine.sync_engine, "before_cursor_execute", on_execute)


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url_for_tests())
    await client.ping()
    yield client
    await client.aclose()


# Jobs: the real arq Worker, in-process (burst mode), on the real Redis and PostgreSQL.
# The worker's sessions are bound to the test's connection in savepoint mode: each job
# still commits or rolls back as one unit, and the test's outer transaction undoes it all.
# Jobs run one at a time here (max_jobs=1): they share that one connection.

RunWorker = Callable[[Queue], Awaitable[Worker]]


@pytest.fixture
async def job_pool() -> AsyncIterator[ArqRedis]:
    """An arq client on the test Redis DB index; every arq/guildhall key there is removed after."""
    pool = create_job_pool(redis_url_for_tests())
    yield pool
    await clear_job_keys(pool)
    await pool.aclose()


async def clear_job_keys(redis: Redis) -> None:
    """Remove every queue and job key from the test Redis DB index (ours alone), so jobs one
    test enqueued never reach another test's worker."""
    for pattern in ("arq:*", "guildhall:*"):
        keys = [key async for key in redis.scan_iter(match=pattern, count=1000)]
        if keys:
            await redis.delete(*keys)


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
        worker = ResilientWorker(
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
            on_job_start=on_job_start,
        )
        await worker.main()
        return worker

    return run
