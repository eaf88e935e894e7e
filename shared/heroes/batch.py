"""Batch create, update and delete of heroes: a statement per batch, never one per row.

Baselines (../shared/notes/sqlmodel-async-facts.md, 100,000 rows): one UPDATE per row 55 s,
ORM bulk-by-PK 2.1 s, one `UPDATE ... FROM unnest(...)` 0.58 s. These use the unnest form.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, Integer, String, Table, any_, delete, func, insert, update
from sqlalchemy.types import TypeEngine
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.errors import constraint_errors
from shared.heroes.schemas import HeroCreate
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


HERO: Table = Hero.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class BatchResult:
    ids: list[int]
    missing_ids: list[int]


async def create_heroes(session: AsyncSession, heroes: Sequence[HeroCreate]) -> list[int]:
    """Insert every hero with one INSERT ... VALUES (...), (...) RETURNING id per 1,000 rows;
    the ids come back in input order."""
    if not heroes:
        return []
    rows = [hero.model_dump() for hero in heroes]
    statement = insert(Hero).returning(col(Hero.id), sort_by_parameter_order=True)
    with constraint_errors():
        result = await session.exec(statement, params=rows)  # type: ignore[call-overload]
    return list(result.scalars().all())


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
            result = await session.exec(statement)  # type: ignore[call-overload]
        updated.extend(result.scalars().all())
    requested = {item["id"] for item in updates}
    done = set(updated)
    return BatchResult(ids=sorted(done), missing_ids=sorted(requested - done))


async def delete_heroes(session: AsyncSession, hero_ids: Sequence[int]) -> BatchResult:
    """Delete heroes by id in ONE statement (their items go by ON DELETE CASCADE)."""
    statement = delete(HERO).where(HERO.c.id == any_(array_param("ids", hero_ids, Integer()))).returning(HERO.c.id)
    with constraint_errors():
        result = await session.exec(statement)  # type: ignore[call-overload]
    deleted = set(result.scalars().all())
    return BatchResult(ids=sorted(deleted), missing_ids=sorted(set(hero_ids) - deleted))
