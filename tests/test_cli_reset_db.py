"""`guildhall reset-db --yes` empties a development database, keeping its migrations, and refuses
anywhere else or without --yes (with nothing emptied). Real processes on a database of their own."""

import asyncio
import subprocess
from collections.abc import Iterator

import asyncpg
import pytest
from alembic import command
from sqlalchemy.engine import URL

from tests.conftest import alembic_config, recreate_database
from tests.support.cli import run_cli

DEVELOPMENT = {"ENVIRONMENT": "development"}


async def _drop_database(url: URL) -> None:
    admin = await asyncpg.connect(host=url.host, port=url.port, user=url.username, database="postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
def seeded_database(database_url: URL) -> Iterator[URL]:
    """A database of its own, migrated, with the demo data set in it."""
    url = database_url.set(database=f"{database_url.database}_reset_db")
    asyncio.run(recreate_database(url))
    command.upgrade(alembic_config(url), "head")
    seeded = run_cli(url, "seed-demo", env=DEVELOPMENT)
    assert seeded.returncode == 0, seeded.stderr
    yield url
    asyncio.run(_drop_database(url))


async def _contents(url: URL) -> dict[str, int]:
    """Rows per table of the public schema (alembic_version included)."""
    connection = await asyncpg.connect(host=url.host, port=url.port, user=url.username, database=url.database)
    try:
        tables = await connection.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {
            row["tablename"]: await connection.fetchval(f'SELECT count(*) FROM "{row["tablename"]}"') for row in tables
        }
    finally:
        await connection.close()


async def _admin_id(url: URL) -> int:
    connection = await asyncpg.connect(host=url.host, port=url.port, user=url.username, database=url.database)
    try:
        return await connection.fetchval("SELECT id FROM user_account WHERE username = 'admin'")
    finally:
        await connection.close()


def test_reset_db_empties_every_table_restarts_ids_and_keeps_the_migrations(seeded_database: URL) -> None:
    url = seeded_database
    before = asyncio.run(_contents(url))
    assert before["user_account"] == 4 and before["hero"] == 6 and before["alembic_version"] == 1
    first_admin = asyncio.run(_admin_id(url))

    result = run_cli(url, "reset-db", "--yes", env=DEVELOPMENT)
    assert result.returncode == 0, result.stderr
    [line] = result.stdout.strip().splitlines()
    assert line.startswith(f"emptied {len(before) - 1} tables of database {url.database} at {url.host}:{url.port}")
    assert "Redis was left as it is" in line
    after = asyncio.run(_contents(url))
    assert after == {table: int(table == "alembic_version") for table in before}

    # The schema is still migrated (seed-demo's preflight checks it), and ids start from 1 again.
    again = run_cli(url, "seed-demo", env=DEVELOPMENT)
    assert again.returncode == 0, again.stderr
    assert asyncio.run(_admin_id(url)) == first_admin == 1


@pytest.mark.parametrize("environment", ["production", "test"])
def test_reset_db_refuses_outside_development_and_empties_nothing(seeded_database: URL, environment: str) -> None:
    before = asyncio.run(_contents(seeded_database))
    result = run_cli(seeded_database, "reset-db", "--yes", env={"ENVIRONMENT": environment})
    assert result.returncode == 1 and result.stdout == "" and "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"guildhall reset-db: refused: ENVIRONMENT={environment}; ")
    assert line.endswith("is only for ENVIRONMENT=development; nothing was emptied")
    assert asyncio.run(_contents(seeded_database)) == before


def test_reset_db_without_yes_names_the_database_it_would_empty_and_empties_nothing(seeded_database: URL) -> None:
    url = seeded_database.set(password="hidden-pass")  # the server trusts local logins; the line must hide it
    before = asyncio.run(_contents(seeded_database))
    result = run_cli(url, "reset-db", env=DEVELOPMENT)
    assert result.returncode == 1 and result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line == (
        f"guildhall reset-db: this empties every table of database {url.database} at {url.host}:{url.port}"
        " (DATABASE_URL); add --yes to do it; nothing was emptied"
    )
    assert "hidden-pass" not in result.stderr
    assert asyncio.run(_contents(seeded_database)) == before


def test_reset_db_gives_up_on_a_table_another_session_holds_and_empties_nothing(seeded_database: URL) -> None:
    """A psql left in a transaction (or a stuck request) holds a lock: reset-db says so after a few
    seconds instead of waiting without a word, and empties nothing."""
    url = seeded_database
    before = asyncio.run(_contents(url))

    async def reset_while_a_transaction_reads_hero() -> subprocess.CompletedProcess[str]:
        holder = await asyncpg.connect(host=url.host, port=url.port, user=url.username, database=url.database)
        try:
            async with holder.transaction():
                await holder.execute("LOCK TABLE hero IN ACCESS SHARE MODE")  # what any SELECT takes
                return await asyncio.to_thread(run_cli, url, "reset-db", "--yes", env=DEVELOPMENT)
        finally:
            await holder.close()

    result = asyncio.run(reset_while_a_transaction_reads_hero())
    assert result.returncode == 1 and "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("guildhall reset-db: another session kept a lock on a table of database ")
    assert line.endswith("stop it and run reset-db again; nothing was emptied")
    assert asyncio.run(_contents(url)) == before
