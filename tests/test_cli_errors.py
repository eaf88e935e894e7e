"""Every `guildhall` subcommand answers a server it cannot reach, a missing database or an
unapplied migration with one line naming what is wrong and what to run (exit 2), never a traceback.
Real processes against the test servers; the broken databases are made and dropped here."""

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator

import asyncpg
import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import create_async_engine

from guildhall.cli.errors import explain, head_revisions
from tests.conftest import ROOT, alembic_config, redis_url_for_tests

UNREACHABLE_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:1/nowhere"
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"
# Each subcommand with arguments that pass its own validation; create-user reads its password.
SUBCOMMANDS = [
    ["check"],
    ["create-db"],
    ["migrate"],
    ["create-user", "cli-err", "cli-err@example.com"],
    ["seed-demo"],
    ["api", "--port", "1"],
    ["worker", "--queue", "short"],
    ["worker", "--queue", "bulk", "--check"],
    ["queue", "--json"],
]


def guildhall(*args: str, database_url: str, redis_url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"DATABASE_URL": database_url, "REDIS_URL": redis_url or redis_url_for_tests()}
    return subprocess.run(
        [sys.executable, "-m", "guildhall.cli", *args],
        input="a-long-enough-password\n", env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def url_with(database_url: URL, name: str) -> str:
    return database_url.set(database=name).render_as_string(hide_password=False)


async def admin(url: URL, sql: str) -> None:
    connection = await asyncpg.connect(host=url.host, port=url.port, user=url.username, database="postgres")
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@pytest.fixture
def empty_database(database_url: URL) -> Iterator[URL]:
    """A database with nothing migrated into it."""
    url = database_url.set(database=f"{database_url.database}_unmigrated")
    asyncio.run(admin(url, f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    asyncio.run(admin(url, f'CREATE DATABASE "{url.database}"'))
    yield url
    asyncio.run(admin(url, f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))


@pytest.mark.parametrize("args", SUBCOMMANDS, ids=" ".join)
def test_an_unreachable_postgres_or_redis_is_one_line_naming_the_url_and_its_variable(
    database_url: URL, args: list[str]
) -> None:
    if args[-1] != "--check":  # worker --check reads Redis alone
        line = one_line(guildhall(*args, database_url=UNREACHABLE_POSTGRES))
        assert "127.0.0.1:1/nowhere" in line and "DATABASE_URL" in line, line
    if args[0] in ("api", "worker", "queue", "check"):
        reachable = database_url.render_as_string(hide_password=False)
        line = one_line(guildhall(*args, database_url=reachable, redis_url=UNREACHABLE_REDIS))
        assert "redis://127.0.0.1:1/0" in line and "REDIS_URL" in line, line


NEED_THE_SCHEMA = [args for args in SUBCOMMANDS if args[0] in ("create-user", "seed-demo", "api", "queue")]


@pytest.mark.parametrize("args", [*NEED_THE_SCHEMA, ["worker", "--queue", "short"]], ids=" ".join)
def test_a_missing_database_is_one_line_saying_to_migrate(database_url: URL, args: list[str]) -> None:
    line = one_line(guildhall(*args, database_url=url_with(database_url, "guildhall_no_such_database")))
    assert "database guildhall_no_such_database" in line and "does not exist" in line, line
    assert "guildhall migrate" in line


def test_queue_json_on_a_missing_database_says_so_instead_of_a_traceback(database_url: URL) -> None:
    """The issue's example: `guildhall queue --json` printed a SQLAlchemy traceback."""
    line = one_line(guildhall("queue", "--json", database_url=url_with(database_url, "guildhall_no_such_database")))
    assert line.startswith("guildhall queue: cannot read the queues: database guildhall_no_such_database at ")
    assert line.endswith("does not exist: run `make db` (or `.venv/bin/guildhall migrate`)")


def test_an_unmigrated_or_outdated_database_is_one_line_saying_to_migrate(empty_database: URL) -> None:
    url = empty_database.render_as_string(hide_password=False)
    for args in (["create-user", "cli-err", "cli-err@example.com"], ["queue"], ["api"], ["worker"]):
        line = one_line(guildhall(*args, database_url=url))
        assert "has no migrations applied: run `make db`" in line, line

    command.upgrade(alembic_config(empty_database), "0004")
    [head] = head_revisions(ROOT / "alembic.ini")
    line = one_line(guildhall("seed-demo", database_url=url))
    assert f"is at migration 0004 and this code needs {head}: run `make db`" in line, line


def test_a_database_migrated_past_this_code_is_a_warning_not_a_refusal(empty_database: URL) -> None:
    """A deployment migrates first, then replaces processes: old ones restarting meanwhile carry on."""
    command.upgrade(alembic_config(empty_database), "head")
    url = empty_database.render_as_string(hide_password=False)

    async def stamp_a_newer_revision() -> None:
        connection = await asyncpg.connect(
            host=empty_database.host, port=empty_database.port, user="postgres", database=empty_database.database
        )
        try:
            await connection.execute("UPDATE alembic_version SET version_num = 'from_newer_code'")
        finally:
            await connection.close()

    asyncio.run(stamp_a_newer_revision())
    result = guildhall("queue", "--json", database_url=url)
    assert result.returncode == 0, result.stderr
    assert "is at migration from_newer_code, which this code does not know" in result.stderr
    assert result.stdout.startswith("{")


async def test_an_error_escaping_a_command_is_explained_by_what_it_means(empty_database: URL) -> None:
    """What main() falls back on when a server or table goes missing after the preflight checks."""
    url = empty_database.render_as_string(hide_password=False)
    engine = create_async_engine(url)
    try:
        with pytest.raises(Exception) as raised:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1 FROM outbox_message"))
    finally:
        await engine.dispose()
    line = explain(raised.value, url, "redis://127.0.0.1:6379/0")
    assert line is not None and "lacks tables or columns this code uses" in line and "outbox_message" in line


def test_forcing_embedded_servers_with_a_url_set_is_refused_in_one_line() -> None:
    env = os.environ | {"GUILDHALL_EMBEDDED": "1", "DATABASE_URL": UNREACHABLE_POSTGRES}
    result = subprocess.run(
        [sys.executable, "-m", "guildhall.cli", "servers", "run", "--", "true"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert "GUILDHALL_EMBEDDED=1 and DATABASE_URL" in one_line(result)
