"""Test harness: the real PostgreSQL and Redis of this machine.

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
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from alembic import command
from alembic.config import Config
from redis.asyncio import Redis
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.settings import get_settings

ROOT = Path(__file__).resolve().parent.parent


def database_url_for_tests() -> URL:
    if explicit := os.environ.get("TEST_DATABASE_URL"):
        return make_url(explicit)
    url = make_url(get_settings().database_url)
    return url.set(database=f"{url.database}_test")


def redis_url_for_tests() -> str:
    return os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


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
    engine = create_async_engine(database_url, pool_size=5, max_overflow=5)
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
