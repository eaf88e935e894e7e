"""Start-up checks and database creation, used by the `guildhall` command.

Every failure to reach a service becomes one `ServiceUnreachable` whose message is a
single line naming the URL tried (password hidden) and the variable that sets it.
"""

from typing import TYPE_CHECKING, cast

import asyncpg
from redis.exceptions import RedisError
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.engine import URL, make_url
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.exc import ArgumentError

from shared.urls import redact

if TYPE_CHECKING:
    from shared.redis_connect import RedisTarget

CONNECT_TIMEOUT = 3.0
# The maintenance database every PostgreSQL server has; the target database may not exist yet.
MAINTENANCE_DB = "postgres"


class ServiceUnreachable(Exception):
    """PostgreSQL or Redis could not be reached; the message is one line meant for a person."""


def _unreachable(service: str, env_var: str, url: str, reason: BaseException | str) -> ServiceUnreachable:
    if isinstance(reason, TimeoutError):
        reason = f"no answer within {CONNECT_TIMEOUT:g} s"
    text = " ".join(str(reason).split()) or type(reason).__name__
    return ServiceUnreachable(f"{service} is not reachable at {redact(url) or '(empty)'} (set {env_var}): {text}")


def database_env_var(url: str) -> str:
    """The variable a person sets to change `url`: the direct URL's when one is configured."""
    from shared.settings import get_settings

    settings = get_settings()
    direct = settings.database_direct_url
    return "DATABASE_DIRECT_URL" if direct and url == direct else "DATABASE_URL"


async def connect_postgres(url: str, database: str | None = None) -> asyncpg.Connection:
    """Connect with asyncpg to the server named by a SQLAlchemy URL: to `database`, or the URL's own.

    No statement cache: the URL may be a transaction-mode pooler's (DATABASE_DIRECT_URL defaults to
    DATABASE_URL), where a named prepared statement would outlive its server connection."""
    env_var = database_env_var(url)
    try:
        parsed: URL = make_url(url)
        # The keyword arguments SQLAlchemy's asyncpg dialect gives asyncpg.connect() for this URL:
        # the engine's connections and this one reach the same server, as the same user, with the
        # same query options (ssl=, several hosts, target_session_attrs=, ...).
        # SQLAlchemy leaves the dialect's own methods unannotated: called through the typed Dialect
        # interface it implements.
        _, connect_args = cast("type[Dialect]", PGDialect_asyncpg)().create_connect_args(parsed)
        options = dict(connect_args)
    except (ArgumentError, ValueError) as exc:  # ValueError: a port that is not a number, say
        raise _unreachable("PostgreSQL", env_var, url, f"not a valid SQLAlchemy URL: {exc}") from None
    options.pop("prepared_statement_cache_size", None)  # the dialect's own option, not asyncpg's
    if "sslmode" in options:  # a libpq-style URL not read through the settings (which say ssl=)
        options.setdefault("ssl", options.pop("sslmode"))
    options |= {"timeout": CONNECT_TIMEOUT, "statement_cache_size": 0}
    if database:
        options["database"] = database
    try:
        return await asyncpg.connect(**options)
    except asyncpg.InvalidCatalogNameError:
        raise
    except TypeError as exc:  # a query option asyncpg does not take: the engine would fail alike
        raise _unreachable("PostgreSQL", env_var, url, f"the URL's options: {exc}") from None
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise _unreachable("PostgreSQL", env_var, url, exc) from exc


async def check_postgres(url: str) -> None:
    """Raise ServiceUnreachable unless the PostgreSQL server of `url` accepts a connection.

    It connects to the URL's own database (a pooler exposes that one, not the `postgres`
    maintenance database); a server that answers "no such database" is reachable all the same
    (`guildhall migrate` creates it)."""
    try:
        connection = await connect_postgres(url)
    except asyncpg.InvalidCatalogNameError:
        return
    await connection.close()


async def check_redis(where: "RedisTarget | str") -> None:
    """Raise ServiceUnreachable unless the Redis master (of a URL, or found through sentinels)
    answers PING."""
    from shared.redis_connect import as_target, client

    target = as_target(where)
    try:
        async with client(target, socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=CONNECT_TIMEOUT) as redis:
            await redis.ping()
    except (RedisError, OSError, ValueError) as exc:
        raise _unreachable("Redis", target.env_var, target.describe(), exc) from exc


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def ensure_database(url: str) -> bool:
    """Create the database named in `url` if it is missing; True if this call created it. `url` must
    reach the server directly (DATABASE_DIRECT_URL): CREATE DATABASE needs its maintenance database.

    Raises ServiceUnreachable when the server cannot be reached, so it doubles as the check.
    """
    try:
        connection = await connect_postgres(url, MAINTENANCE_DB)
    except asyncpg.InvalidCatalogNameError as exc:  # a pooler without the maintenance database
        raise _unreachable("PostgreSQL", database_env_var(url), url, f"{exc} (set DATABASE_DIRECT_URL)") from exc
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


# Emptying waits this long for the tables' locks, then gives up: a session in a transaction (a
# stuck API request, a psql left open) would otherwise hold `guildhall reset-db` without a word.
RESET_LOCK_TIMEOUT_MS = 5_000


def describe_database(url: str) -> str:
    """`database NAME at HOST:PORT`, no user or password: how a command names the database it acts on."""
    parsed = make_url(url)
    return f"database {parsed.database} at {parsed.host or 'localhost'}:{parsed.port or 5432}"


async def reset_database(url: str) -> list[str]:
    """Empty every table of the public schema but alembic_version (the schema stays migrated), their
    ids restarting at 1, and return the tables' names. One TRUNCATE: every table at once, in one
    transaction, whatever the foreign keys between them. `url` must reach the server directly
    (DATABASE_DIRECT_URL): this is no work for a pooler's borrowed session."""
    connection = await connect_postgres(url)
    try:
        async with connection.transaction():
            await connection.execute(f"SET LOCAL lock_timeout = {RESET_LOCK_TIMEOUT_MS}")
            tables: list[str] = [
                row["tablename"]
                for row in await connection.fetch(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
                    " ORDER BY tablename"
                )
            ]
            if tables:
                names = ", ".join(f"public.{quote_identifier(table)}" for table in tables)
                # asyncpg.LockNotAvailableError past RESET_LOCK_TIMEOUT_MS: nothing is emptied.
                await connection.execute(f"TRUNCATE TABLE {names} RESTART IDENTITY CASCADE")
        return tables
    finally:
        await connection.close()
