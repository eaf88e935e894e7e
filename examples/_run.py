"""Running an example: its `demo(session)` on DATABASE_URL (the migrated schema), in one
transaction that is rolled back, so an example leaves the database as it found it."""

import asyncio
from collections.abc import Awaitable, Callable

from sqlmodel.ext.asyncio.session import AsyncSession

import shared.models  # noqa: F401  (every table, so relationships resolve by name)
from shared.db import create_engine

Demo = Callable[[AsyncSession], Awaitable[None]]


async def _rolled_back(demo: Demo) -> None:
    engine = create_engine()
    try:
        async with engine.connect() as connection:
            transaction = await connection.begin()
            try:
                session = AsyncSession(bind=connection, expire_on_commit=False, autoflush=False)
                await demo(session)
            finally:
                await transaction.rollback()
    finally:
        await engine.dispose()


def run(demo: Demo) -> None:
    asyncio.run(_rolled_back(demo))
