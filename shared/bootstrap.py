"""Start-up checks and database creation, used by the `guildhall` command.

Every failure to reach a service becomes one `ServiceUnreachable` whose message is a
single line naming the URL tried (password hidden) and the variable that sets it.
"""

from urllib.parse import urlsplit

import asyncpg
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

CONNECT_TIMEOUT = 3.0
# The maintenance database every PostgreSQL server has; the target database may not exist yet.
MAINTENANCE_DB = "postgres"


class ServiceUnreachable(Exception):
    """PostgreSQL or Redis could not be reached; the message is one line meant for a person."""


def redact(url: str) -> str:
    """The URL with its password, if any, replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    username = userinfo.partition(":")[0]
    return parts._replace(netloc=f"{username}:***@{hostport}").geturl()


def _unreachable(service: str, env_var: str, url: str, reason: BaseException | str) -> ServiceUnreachable:
    if isinstance(reason, TimeoutError):
        reason = f"no answer within {CONNECT_TIMEOUT:g} s"
    text = " ".join(str(reason).split()) or type(reason).__name__
    return ServiceUnreachable(f"{service} is not reachable at {redact(url) or '(empty)'} (set {env_var}): {text}")


async def _connect_maintenance_db(url: str) -> asyncpg.Connection:
    """Connect with asyncpg to the maintenance database of the server named by a SQLAlchemy URL."""
    try:
        parsed: URL = make_url(url)
    except ArgumentError:
        raise _unreachable("PostgreSQL", "DATABASE_URL", url, "not a valid SQLAlchemy URL") from None
    # SQLAlchemy's asyncpg dialect reads TLS settings from ?ssl=; libpq-style URLs use ?sslmode=.
    ssl = parsed.query.get("ssl") or parsed.query.get("sslmode")
    try:
        return await asyncpg.connect(
            host=parsed.host,
            port=parsed.port,
            user=parsed.username,
            password=parsed.password,
            database=MAINTENANCE_DB,
            ssl=ssl,
            timeout=CONNECT_TIMEOUT,
        )
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise _unreachable("PostgreSQL", "DATABASE_URL", url, exc) from exc


async def check_postgres(url: str) -> None:
    """Raise ServiceUnreachable unless the PostgreSQL server of `url` accepts a connection."""
    connection = await _connect_maintenance_db(url)
    await connection.close()


async def check_redis(url: str) -> None:
    """Raise ServiceUnreachable unless the Redis server of `url` answers PING."""
    try:
        async with Redis.from_url(
            url, socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=CONNECT_TIMEOUT
        ) as client:
            await client.ping()
    except (RedisError, OSError, ValueError) as exc:
        raise _unreachable("Redis", "REDIS_URL", url, exc) from exc


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def ensure_database(url: str) -> bool:
    """Create the database named in `url` if it is missing; True if this call created it.

    Raises ServiceUnreachable when the server cannot be reached, so it doubles as the check.
    """
    connection = await _connect_maintenance_db(url)
    try:
        name = make_url(url).database
        if not name:
            raise ValueError(f"{redact(url)} names no database (set DATABASE_URL)")
        if await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return False
        try:
            # CREATE DATABASE takes no bind parameters, hence the quoted identifier.
            await connection.execute(f"CREATE DATABASE {quote_identifier(name)}")
        except (asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):
            # Another process created it since our look-up; a truly simultaneous CREATE trips
            # the unique index on pg_database instead of raising duplicate_database.
            return False
        return True
    finally:
        await connection.close()
