"""Shared set-up for the benchmarks: a scratch database migrated from scratch, dropped after, and a
free port for the servers they start."""

import asyncio
import os
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from shared.settings import get_settings

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (the OS's choice, released at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def bench_url(database: str | None = None) -> URL:
    """The scratch database, dropped and recreated by each benchmark: `<DATABASE_URL's name>_bench`
    unless `database` names another (a test run uses its own name, so it never drops a benchmark
    someone is running). BENCH_DATABASE_URL chooses the server (host, port, user) only: the
    database it names is never the one used, so pointing it at a real database cannot drop that."""
    url = make_url(os.environ.get("BENCH_DATABASE_URL") or get_settings().database_url)
    return url.set(database=database or f"{make_url(get_settings().database_url).database}_bench")


async def _admin(url: URL, sql: str) -> None:
    connection = await asyncpg.connect(host=url.host, port=url.port, user=url.username, database="postgres")
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@asynccontextmanager
async def scratch_database(database: str | None = None) -> AsyncIterator[AsyncEngine]:
    url = bench_url(database)
    # It is dropped: a name that could be someone's real database is refused, not dropped.
    if "_bench" not in str(url.database) or url.database == make_url(get_settings().database_url).database:
        raise SystemExit(f"refusing to drop {url.database!r}: a benchmark's scratch database has _bench in its name")
    name = f'"{url.database}"'
    await _admin(url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    await _admin(url, f"CREATE DATABASE {name}")
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["database_url"] = url.render_as_string(hide_password=False)
    config.attributes["configure_logger"] = False
    await asyncio.to_thread(command.upgrade, config, "head")
    engine = create_async_engine(url, pool_size=5)
    try:
        yield engine
    finally:
        await engine.dispose()
        await _admin(url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


async def timed(label: str, work: Callable[[], Awaitable[Any]]) -> float:
    start = time.perf_counter()
    await work()
    seconds = time.perf_counter() - start
    print(f"  {label:<58} {seconds:8.3f} s")
    return seconds
