"""Batch update: `{id, **fields}` updates applied with one `UPDATE hero ... FROM unnest(...)` per
distinct set of fields, whatever the row count, never one UPDATE per row.

Baselines (bench/bulk_update.py, 100,000 rows): one UPDATE per row 55 s, ORM bulk-by-PK 2.1 s, one
`UPDATE ... FROM unnest(...)` 0.58 s. Each column is sent as ONE typed array parameter
(shared.sql.array_param), so any number of rows stays far inside asyncpg's 32,767-parameter limit.
The service's bulk job applies its staged items the same way (shared/heroes/bulk_staging.py).

    python -m examples.batch_update
"""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Float, Integer, String, func, update
from sqlalchemy.types import TypeEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from examples._run import run
from shared.errors import constraint_errors
from shared.heroes.batch import HERO, BatchResult
from shared.models.heroes import Hero
from shared.sql import array_param

# The columns a batch update may set, with the array element type PostgreSQL needs.
UPDATABLE: dict[str, TypeEngine[Any]] = {
    "name": String(),
    "secret_identity": String(),
    "age": Integer(),
    "power_level": Float(),
    "team_id": Integer(),
}


def _group_by_fields(updates: Iterable[Mapping[str, Any]]) -> dict[tuple[str, ...], list[Mapping[str, Any]]]:
    groups: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for item in updates:
        fields = tuple(sorted(key for key in item if key != "id"))
        unknown = set(fields) - UPDATABLE.keys()
        if unknown:
            raise ValueError(f"cannot batch-update hero fields {sorted(unknown)}")
        groups.setdefault(fields, []).append(item)
    return groups


async def update_heroes(session: AsyncSession, updates: Sequence[Mapping[str, Any]]) -> BatchResult:
    """Apply `{id, **fields}` updates: one `UPDATE hero ... FROM unnest(...)` per distinct set of
    fields (items that change the same columns share a statement), whatever the row count.

    Returns the ids updated and the ids that matched no hero. The caller's transaction
    decides: on a constraint violation nothing of the batch is kept once it rolls back.
    """
    updated: list[int] = []
    for fields, items in _group_by_fields(updates).items():
        if not fields:
            continue
        arrays = [array_param("ids", [item["id"] for item in items], Integer())]
        arrays += [array_param(f"v_{f}", [item[f] for item in items], UPDATABLE[f]) for f in fields]
        source = func.unnest(*arrays).table_valued("id", *fields).render_derived(name="batch")
        # Core UPDATE on the table, not the ORM-enabled form: the ORM one adds identity-map
        # bookkeeping that doubles the time of 100,000 rows (bench/bulk_update.py).
        statement = (
            update(HERO)
            .where(HERO.c.id == source.c.id)
            .values({field: source.c[field] for field in fields})
            .returning(HERO.c.id)
        )
        with constraint_errors():
            result = await session.exec(statement)
        updated.extend(result.scalars().all())
    requested = {item["id"] for item in updates}
    done = set(updated)
    return BatchResult(ids=sorted(done), missing_ids=sorted(requested - done))


async def demo(session: AsyncSession) -> None:
    """Three heroes: two get a new power level (one statement), one a new age (another), and an
    id that matches no hero is reported missing."""
    heroes = [Hero(name=f"Example: batch {n}", secret_identity="B", age=30 + n, power_level=10) for n in range(3)]
    session.add_all(heroes)
    await session.flush()
    ids = [hero.id for hero in heroes if hero.id is not None]
    updates: list[dict[str, Any]] = [
        {"id": ids[0], "power_level": 55},
        {"id": ids[1], "power_level": 66},
        {"id": ids[2], "age": 50},
        {"id": 2_000_000_000, "age": 40},
    ]
    result = await update_heroes(session, updates)
    print(f"updated {result.ids}, missing {result.missing_ids}")


def main() -> None:
    run(demo)


if __name__ == "__main__":
    main()
