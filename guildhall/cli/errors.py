"""What the `guildhall` command says instead of a traceback: one line naming what is wrong and
what to run. `preflight` checks a command's servers and schema before it starts; `explain`
turns an error that still escapes (a server gone mid-command) into such a line."""

from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from guildhall.bootstrap import ServiceUnreachable, check_postgres, check_redis, connect_postgres
from shared.errors import unavailable
from shared.redis_connect import RedisTarget
from shared.urls import redact

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory

MIGRATE = "run `make db` (or `.venv/bin/guildhall migrate`)"
# SQLSTATEs: a missing database; a missing table or column (migrations not applied); a refused login.
MISSING_DATABASE = "3D000"
MISSING_SCHEMA = ("42P01", "42703")
LOGIN_REFUSED = ("28P01", "28000")


def _where(database_url: str) -> str:
    url = make_url(database_url)
    return f"database {url.database} at {redact(database_url)} (DATABASE_URL)"


def _scripts(alembic_ini: Path) -> "ScriptDirectory":
    # Alembic takes a fifth of a second to import: only the commands that check the schema pay it.
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(Config(str(alembic_ini)))


def head_revisions(alembic_ini: Path) -> set[str]:
    return set(_scripts(alembic_ini).get_heads())


async def check_schema(database_url: str, alembic_ini: Path) -> str | None:
    """Raise ServiceUnreachable unless the database exists and has every migration this code knows.

    A database migrated past this code (a revision it does not know) is not refused: a deployment
    that migrates first and then replaces the processes restarts old ones meanwhile, and migrations
    keep the previous code working. That case returns a warning line instead."""
    try:
        connection = await connect_postgres(database_url)
    except asyncpg.InvalidCatalogNameError:
        raise ServiceUnreachable(f"{_where(database_url)} does not exist: {MIGRATE}") from None
    try:
        try:
            found = {row["version_num"] for row in await connection.fetch("SELECT version_num FROM alembic_version")}
        except asyncpg.UndefinedTableError:
            found = set()
    finally:
        await connection.close()
    heads = head_revisions(alembic_ini)
    if not found:
        raise ServiceUnreachable(f"{_where(database_url)} has no migrations applied: {MIGRATE}")
    if found != heads:
        known = {script.revision for script in _scripts(alembic_ini).walk_revisions()}
        if found - known:
            return (
                f"warning: {_where(database_url)} is at migration {', '.join(sorted(found))}, which this code"
                " does not know (migrated by newer code); carrying on"
            )
        raise ServiceUnreachable(
            f"{_where(database_url)} is at migration {', '.join(sorted(found))} and this code needs"
            f" {', '.join(sorted(heads))}: {MIGRATE}"
        )
    return None


async def preflight(database_url: str, redis: "RedisTarget | str | None", alembic_ini: Path | None) -> str | None:
    """Check the servers a command needs (Redis if `redis`), and the schema if `alembic_ini`.
    Returns a warning to print, if any."""
    await check_postgres(database_url)
    if redis is not None:
        await check_redis(redis)
    if alembic_ini is not None:
        return await check_schema(database_url, alembic_ini)
    return None


def _causes(error: BaseException) -> list[BaseException]:
    """The error, what it wraps (a DBAPIError's driver error) and its causes, outermost first."""
    seen: list[BaseException] = []
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop(0)
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        pending += [getattr(current, "orig", None), current.__cause__, current.__context__]
    return seen


def explain(error: BaseException, database_url: str, redis_url: str) -> str | None:
    """One line for an error that means a server, the database or its schema is missing; else None."""
    for cause in _causes(error):
        if isinstance(cause, RedisConnectionError | RedisTimeoutError):
            return f"Redis is not reachable at {redact(redis_url)} (set REDIS_URL): {cause}"
        sqlstate = getattr(cause, "sqlstate", None) or getattr(getattr(cause, "orig", None), "sqlstate", None)
        if sqlstate == MISSING_DATABASE:
            return f"{_where(database_url)} does not exist: {MIGRATE}"
        if sqlstate in MISSING_SCHEMA:
            return f"{_where(database_url)} lacks tables or columns this code uses ({_first_line(cause)}): {MIGRATE}"
        if sqlstate in LOGIN_REFUSED:
            return f"PostgreSQL refused the login at {redact(database_url)} (set DATABASE_URL): {_first_line(cause)}"
        driver_error = DBAPIError | OSError | asyncpg.PostgresError | asyncpg.InterfaceError
        if isinstance(cause, driver_error) and (reason := unavailable(cause)) is not None:
            return f"PostgreSQL at {redact(database_url)} cannot serve (set DATABASE_URL): {reason.message}"
    return None


def _first_line(error: BaseException) -> str:
    """The driver's own message (a SQLAlchemy error adds the statement and a link to it)."""
    driver = next((c for c in _causes(error) if isinstance(c, asyncpg.PostgresError)), error)
    text = str(driver).strip().splitlines()
    return text[0].strip() if text else type(driver).__name__
