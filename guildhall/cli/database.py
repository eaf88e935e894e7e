"""The database's commands: check (PostgreSQL and Redis answer), create-db, migrate, seed-demo and
reset-db (development only)."""

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from guildhall.demo import DemoSummary
    from shared.redis_connect import RedisTarget


async def _check_services(database_url: str, redis: "RedisTarget") -> None:
    from guildhall.bootstrap import check_postgres, check_redis

    await check_postgres(database_url)
    await check_redis(redis)


def cmd_check(args: argparse.Namespace) -> int:
    import asyncio

    from shared.redis_connect import RedisTarget
    from shared.settings import get_settings
    from shared.urls import redact

    settings = get_settings()
    redis = RedisTarget.from_settings(settings)
    asyncio.run(_check_services(settings.direct_database_url, redis))
    print(f"PostgreSQL ok at {redact(settings.direct_database_url)}; Redis ok at {redis.describe()}")
    return 0


def cmd_create_db(args: argparse.Namespace) -> int:
    import asyncio

    from sqlalchemy.engine import make_url

    from guildhall.bootstrap import ensure_database
    from shared.settings import get_settings

    url = get_settings().direct_database_url
    # ensure_database connects to the server first and raises ServiceUnreachable, so it is the check.
    created = asyncio.run(ensure_database(url))
    name = make_url(url).database
    print(f"created database {name}" if created else f"database {name} already exists")
    return 0


def alembic_ini() -> Path:
    # The repo root for an editable install; the working directory for an installed package
    # (the Docker image runs from /app, where alembic.ini and migrations/ are copied).
    for directory in (Path(__file__).resolve().parents[2], Path.cwd()):
        if (directory / "alembic.ini").is_file():
            return directory / "alembic.ini"
    raise SystemExit("alembic.ini not found: run guildhall migrate from the repository root")


def cmd_migrate(args: argparse.Namespace) -> int:
    from alembic import command
    from alembic.config import Config

    cmd_create_db(args)
    # Outside any event loop: migrations/env.py calls asyncio.run itself.
    command.upgrade(Config(str(alembic_ini())), "head")
    return 0


async def _seed_demo() -> "DemoSummary":
    from guildhall.demo import seed_demo
    from shared.db import create_engine, create_session_factory, unit_of_work

    engine = create_engine()
    try:
        async with unit_of_work(create_session_factory(engine)) as session:
            return await seed_demo(session)
    finally:
        await engine.dispose()


def cmd_seed_demo(args: argparse.Namespace) -> int:
    """Demo data, with a known admin password: refused (exit 1, nothing written, before any session
    opens) outside ENVIRONMENT=development."""
    import asyncio

    from guildhall.demo import DEMO_PASSWORD, demo_refusal
    from shared.errors import DomainError
    from shared.settings import get_settings

    refusal = demo_refusal(get_settings().environment)
    if refusal is not None:
        print(f"guildhall seed-demo: {refusal}", file=sys.stderr)
        return 1
    try:
        summary = asyncio.run(_seed_demo())
    except DomainError as error:
        print(f"guildhall seed-demo: {error.message}", file=sys.stderr)
        return 1
    print("demo data: " + ", ".join(f"{count} {name}" for name, count in summary.counts.items()))
    print(f"users (password {DEMO_PASSWORD!r} for each): " + ", ".join(f"{u} ({r})" for u, r in summary.users))
    # The API's address from HOST and PORT, as `make run` and `guildhall api` serve it.
    login = f"curl -s -X POST {get_settings().api_url}/api/v1/auth/token -d username=admin -d password={DEMO_PASSWORD}"
    print(f"log in:  {login}")
    return 0


def cmd_reset_db(args: argparse.Namespace) -> int:
    """Empty a development database (every table but alembic_version, ids from 1): refused outside
    ENVIRONMENT=development, and without --yes, before any connection is made."""
    import asyncio

    import asyncpg

    from guildhall.bootstrap import RESET_LOCK_TIMEOUT_MS, database_env_var, describe_database, reset_database
    from guildhall.demo import reset_refusal
    from shared.settings import get_settings

    settings = get_settings()
    if (refusal := reset_refusal(settings.environment)) is not None:
        print(f"guildhall reset-db: {refusal}", file=sys.stderr)
        return 1
    url = settings.direct_database_url  # TRUNCATE is a server session's work, not a pooler's
    where = f"{describe_database(url)} ({database_env_var(url)})"
    if not args.yes:
        print(
            f"guildhall reset-db: this empties every table of {where}; add --yes to do it; nothing was emptied",
            file=sys.stderr,
        )
        return 1
    try:
        tables = asyncio.run(reset_database(url))
    except asyncpg.LockNotAvailableError:
        print(
            f"guildhall reset-db: another session kept a lock on a table of {where} for"
            f" {RESET_LOCK_TIMEOUT_MS / 1000:g} s (an API request, a job or a psql in a transaction):"
            " stop it and run reset-db again; nothing was emptied",
            file=sys.stderr,
        )
        return 1
    if not tables:
        print(f"{where} has no tables to empty (not migrated: guildhall migrate)")
        return 0
    # Redis is not the database's: queued jobs, worker heartbeats and rate-limit counters stay there.
    print(
        f"emptied {len(tables)} tables of {where}; ids restart at 1; the migrations stay applied."
        " Redis was left as it is (queued jobs, rate-limit counters)"
    )
    return 0
