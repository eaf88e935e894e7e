"""Bulk hero update: Guildhall's job logic vs the baselines, in one run.

    .venv/bin/python -m bench.bulk_update [ROWS]      (default 100,000)

Baselines (same rows, same run): one `UPDATE hero ... FROM unnest(...)` statement (the
floor), and one UPDATE per row, timed on a sample and scaled to ROWS (the reference's
way; a full run would take about a minute). Prints each time and the ratios.
"""

import asyncio
import sys

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bench.common import scratch_database, timed
from shared.heroes.bulk import BulkHeroUpdateRequest, bulk_update

PER_ROW_SAMPLE = 2_000


async def seed(engine: AsyncEngine, rows: int) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO hero (name, secret_identity, age, power_level) "
                "SELECT 'hero ' || g, 'identity ' || g, 30, 10 FROM generate_series(1, :rows) g"
            ),
            {"rows": rows},
        )
        await connection.execute(text("ANALYZE hero"))


async def run(rows: int) -> None:
    async with scratch_database() as engine:
        await seed(engine, rows)
        factory = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
        ids = list(range(1, rows + 1))
        print(f"bulk update of {rows:,} heroes (power_level and age)")

        async def single_statement() -> None:
            async with engine.begin() as connection:
                await connection.execute(
                    text(
                        "UPDATE hero SET power_level = b.p, age = b.a FROM unnest(CAST(:ids AS int[]), "
                        "CAST(:ps AS float8[]), CAST(:as_ AS int[])) AS b(id, p, a) WHERE hero.id = b.id"
                    ),
                    {"ids": ids, "ps": [20.0] * rows, "as_": [31] * rows},
                )

        async def guildhall_job() -> None:
            raw = [{"id": i, "power_level": 30.0, "age": 32} for i in ids]  # the job's JSON input
            items = BulkHeroUpdateRequest.model_validate({"items": raw}).items  # as the worker does

            async def no_progress(done: int, total: int) -> None:
                return None

            async with factory() as session, session.begin():
                await bulk_update(session, items, no_progress)

        async def per_row_sample() -> None:
            async with engine.begin() as connection:
                for hero_id in ids[:PER_ROW_SAMPLE]:
                    await connection.execute(
                        text("UPDATE hero SET power_level = 40, age = 33 WHERE id = :id"), {"id": hero_id}
                    )

        # Alternate the two, twice, and keep each one's best: the first UPDATE of a fresh table
        # and the table's growing dead tuples would otherwise favour whichever runs first.
        floors, ours_runs = [], []
        for _ in range(2):
            floors.append(await timed("baseline: one UPDATE ... FROM unnest(...)", single_statement))
            ours_runs.append(await timed("guildhall: bulk_update job logic (validated, chunked)", guildhall_job))
        floor, ours = min(floors), min(ours_runs)
        sample = await timed(f"baseline: one UPDATE per row, {PER_ROW_SAMPLE:,} rows", per_row_sample)
        per_row = sample * rows / PER_ROW_SAMPLE
        print(f"  {'baseline: one UPDATE per row, scaled to ' + format(rows, ','):<58} {per_row:8.3f} s")
        print(f"ratio guildhall / single statement: {ours / floor:.2f}x")
        print(f"ratio per-row / guildhall:          {per_row / ours:.1f}x faster than per-row")


if __name__ == "__main__":
    asyncio.run(run(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000))
