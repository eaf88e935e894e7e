"""Reading a PostgreSQL server a test started, from outside the processes under test."""

import asyncio

import asyncpg


async def _count(url: str, sql: str) -> int:
    connection = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        return int(await connection.fetchval(sql))
    finally:
        await connection.close()


def count(url: str, sql: str) -> int:
    """The one number `sql` selects, on its own connection (from synchronous tests)."""
    return asyncio.run(_count(url, sql))
