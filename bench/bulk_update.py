"""Bulk hero update: Guildhall's job logic vs the baselines, in one run.

    .venv/bin/python -m bench.bulk_update [ROWS] [DATABASE]      (default 100,000, <name>_bench)

Guildhall: what the bulk worker does with an accepted job (`bulk_update_staged`: one statement
over the items staged with its record, in one transaction). Baselines (same rows, same run): one
`UPDATE hero ... FROM unnest(...)` statement (the floor), and one UPDATE per row, timed on a
sample and scaled to ROWS (the reference's way; a full run would take about a minute). Each run
starts from a vacuumed table. Prints each time and the ratios. For the whole path, HTTP request
to completed job, see bench/bulk_job.py.
"""

import asyncio
import sys

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bench.common import scratch_database, timed
from shared.heroes.bulk_schemas import BulkHeroUpdateRequest
from shared.heroes.jobs import accept_update, bulk_update_staged
from shared.jobs.after_commit import discard_pending

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


async def run(rows: int, database: str | None = None) -> None:
    async with scratch_database(database) as engine:
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

        # The job, accepted as the API accepts it: its record and its staged items (not timed: that
        # is the request's work, measured with the rest in bench/bulk_job.py).
        items = BulkHeroUpdateRequest.model_validate(
            {"items": [{"id": i, "power_level": 30.0, "age": 32} for i in ids]}
        )

        async def accept() -> str:
            # A fresh job per round: applying a job deletes its staged items (a second run of the
            # same job would find none and time nothing).
            async with factory() as session, session.begin():
                job_id = await accept_update(session, items.items, None)
                discard_pending(session)  # no queue here: the benchmark runs the job's logic itself
            return job_id

        job_ids: list[str] = []

        async def guildhall_job() -> None:
            async def no_progress(done: int, total: int) -> None:
                return None

            async with factory() as session, session.begin():
                await bulk_update_staged(session, job_ids[-1], no_progress)

        async def vacuum() -> None:
            async with engine.connect() as connection:
                autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
                await autocommit.execute(text("VACUUM hero"))

        async def per_row_sample() -> None:
            async with engine.begin() as connection:
                for hero_id in ids[:PER_ROW_SAMPLE]:
                    await connection.execute(
                        text("UPDATE hero SET power_level = 40, age = 33 WHERE id = :id"), {"id": hero_id}
                    )

        # Alternate the two, twice, each on a vacuumed table, and keep each one's best: the table's
        # dead row versions would otherwise favour whichever runs first.
        floors, ours_runs = [], []
        for _ in range(2):
            await vacuum()
            floors.append(await timed("baseline: one UPDATE ... FROM unnest(...)", single_statement))
            job_ids.append(await accept())
            await vacuum()
            ours_runs.append(await timed("guildhall: the bulk job's logic (from its record)", guildhall_job))
        floor, ours = min(floors), min(ours_runs)
        sample = await timed(f"baseline: one UPDATE per row, {PER_ROW_SAMPLE:,} rows", per_row_sample)
        per_row = sample * rows / PER_ROW_SAMPLE
        print(f"  {'baseline: one UPDATE per row, scaled to ' + format(rows, ','):<58} {per_row:8.3f} s")
        print(f"ratio guildhall / single statement: {ours / floor:.2f}x")
        print(f"ratio per-row / guildhall:          {per_row / ours:.1f}x faster than per-row")


if __name__ == "__main__":
    asyncio.run(run(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000, sys.argv[2] if len(sys.argv) > 2 else None))
