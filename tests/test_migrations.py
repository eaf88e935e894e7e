"""Alembic is the only way the schema is made: up from empty, no drift, and back down to nothing."""

import asyncio

import asyncpg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from sqlmodel import SQLModel

import shared.models  # noqa: F401
from tests.conftest import alembic_config, recreate_database


@pytest.fixture(scope="module")
def empty_database(database_url: URL) -> URL:
    url = database_url.set(database=f"{database_url.database}_migrations")
    asyncio.run(recreate_database(url))
    return url


async def schema_diff(url: URL) -> list[object]:
    engine = create_async_engine(url, poolclass=NullPool)
    async with engine.connect() as connection:

        def compare(sync_connection):  # type: ignore[no-untyped-def]
            context = MigrationContext.configure(sync_connection, opts={"compare_type": True})
            return compare_metadata(context, SQLModel.metadata)

        diff = await connection.run_sync(compare)
    await engine.dispose()
    return diff


async def user_tables(url: URL) -> set[str]:
    connection = await asyncpg.connect(host=url.host, port=url.port, user=url.username, database=url.database)
    try:
        rows = await connection.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        functions = await connection.fetch(
            "SELECT proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE nspname = 'public'"
        )
    finally:
        await connection.close()
    return {row[0] for row in rows} | {f"fn:{row[0]}" for row in functions}


def test_upgrade_from_empty_autogenerate_finds_nothing_and_downgrade_empties(empty_database: URL) -> None:
    config = alembic_config(empty_database)
    command.upgrade(config, "head")
    tables = asyncio.run(user_tables(empty_database))
    assert {"hero", "tag", "enrollment", "category", "user_account", "fn:tag_item_must_exist"} <= tables
    assert asyncio.run(schema_diff(empty_database)) == []

    command.downgrade(config, "base")
    assert asyncio.run(user_tables(empty_database)) == {"alembic_version"}
    command.upgrade(config, "head")  # and up again: the downgrade left nothing in the way
