"""Where the growth benchmark keeps its data: a database of its own (created, migrated with Alembic as
`guildhall migrate` does, dropped at the end unless kept) and one Redis db index of its own on the
shared server, which it empties only while its marker key says the index is its own."""

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import asyncpg
from alembic import command
from alembic.config import Config
from redis.asyncio import Redis
from sqlalchemy.engine import URL, make_url

from bench.api.apps import BENCH_SECRET
from bench.common import ROOT, bench_url
from shared.settings import get_settings

DEFAULT_DATABASE = "guildhall_growth"
DEFAULT_REDIS_DB = 9
# Set in the Redis db when the benchmark takes it: a db that holds keys but not this one belongs to
# someone else, and the benchmark refuses it rather than delete their keys.
MARKER = "guildhall:growth-bench:owner"


def database_url(name: str) -> URL:
    """The server of BENCH_DATABASE_URL (or DATABASE_URL), with the growth database's name. A name
    without "growth" in it is refused: the database is dropped, and must never be someone's."""
    if "growth" not in name or name == make_url(get_settings().database_url).database:
        raise SystemExit(f"refusing to use {name!r}: the growth benchmark's database has 'growth' in its name")
    return bench_url(name)


def redis_url(db: int, server: str | None = None) -> str:
    """Db index `db` of `server` (a redis:// URL), else of the settings' Redis."""
    base = urlsplit(server or os.environ.get("BENCH_REDIS_URL") or get_settings().redis_url)
    return base._replace(path=f"/{db}").geturl()


async def _admin(url: URL, sql: str) -> None:
    connection = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, password=url.password, database="postgres"
    )
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def plain(url: URL) -> str:
    """asyncpg's form of the URL (postgresql://), password included."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@asynccontextmanager
async def growth_database(name: str, *, keep: bool) -> AsyncIterator[URL]:
    url = database_url(name)
    quoted = f'"{url.database}"'
    await _admin(url, f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
    await _admin(url, f"CREATE DATABASE {quoted}")
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["database_url"] = url.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    config.attributes["configure_logger"] = False
    await asyncio.to_thread(command.upgrade, config, "head")
    try:
        yield url
    finally:
        if keep:
            print(f"kept database {url.database} (--keep)")
        else:
            await _admin(url, f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")


async def take_redis_db(url: str) -> None:
    """Empty the benchmark's Redis db, after checking it is its own: empty, or holding the marker of
    an earlier run. Only that db is touched (FLUSHDB, never FLUSHALL)."""
    async with Redis.from_url(url) as redis:
        if await redis.dbsize() and not await redis.exists(MARKER):
            raise SystemExit(f"{url} holds keys the growth benchmark did not write: choose an empty db with --redis-db")
        await redis.flushdb()
        await redis.set(MARKER, "1")


async def release_redis_db(url: str) -> None:
    async with Redis.from_url(url) as redis:
        if await redis.exists(MARKER):
            await redis.flushdb()


@dataclass(frozen=True)
class Place:
    """The database and the Redis db of a run, and the API's environment for them."""

    database: URL
    redis: str

    def api_env(self) -> dict[str, str]:
        # The shell's database and metrics settings are not inherited: the API must serve this
        # database, directly (no pooler, no replica).
        excluded = ("METRICS_", "DB_ECHO", "DB_POOLER", "DATABASE_", "REDIS_SENTINEL")
        env = {k: v for k, v in os.environ.items() if not k.startswith(excluded)}
        env.update(
            DATABASE_URL=self.database.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False),
            REDIS_URL=self.redis,
            ENVIRONMENT="development",
            SECRET_KEY=BENCH_SECRET,
            ACCESS_TOKEN_MINUTES="600",
            # Reads only, but the login throttle and write limits must never answer for the data.
            WRITE_LIMITS="{}",
            WEB_CONCURRENCY="1",
        )
        return env
