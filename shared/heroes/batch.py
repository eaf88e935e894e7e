"""Batch create and delete of heroes: a statement per batch, never one per row. (The batch update
of the same pattern, which no route calls, is a showcase: examples/batch_update.py.)"""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Integer, Table, any_, delete, insert
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.errors import constraint_errors
from shared.heroes.schemas import HeroCreate
from shared.models.base import table_of
from shared.models.heroes import Hero
from shared.sql import array_param

HERO: Table = table_of(Hero)


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
        result = await session.exec(statement, params=rows)
    return list(result.scalars().all())


async def delete_heroes(session: AsyncSession, hero_ids: Sequence[int]) -> BatchResult:
    """Delete heroes by id in ONE statement (their items go by ON DELETE CASCADE)."""
    statement = delete(HERO).where(HERO.c.id == any_(array_param("ids", hero_ids, Integer()))).returning(HERO.c.id)
    with constraint_errors():
        result = await session.exec(statement)
    deleted = set(result.scalars().all())
    return BatchResult(ids=sorted(deleted), missing_ids=sorted(set(hero_ids) - deleted))
