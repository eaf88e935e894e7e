"""A bulk update's items, staged with its job record (shared.models.heroes.HeroUpdateItems: one row
of seven typed arrays), and applied from there in one SQL statement.

Staged in the request's transaction, so the 202 and the items commit together and the job's items
never travel through Redis; applied in the job's transaction; dropped once applied (a failed job
keeps them for a retry).
"""

from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import delete, insert, select, text
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.errors import constraint_errors
from shared.heroes.bulk_schemas import BulkHeroUpdate
from shared.models.base import table_of
from shared.models.heroes import HeroUpdateItems

_STAGED = table_of(HeroUpdateItems)
_FIELDS = ("name", "secret_identity", "age", "power_level", "team_id")

# Staged items applied in one statement: unnest zips the arrays back into items (a field no item
# set has no array: unnest pads it with NULLs). A field an item left out is NULL and leaves its
# column as it is (COALESCE: the API never lets those fields be null); team_id is set wherever it
# was given, so an explicit null leaves the team (as in PATCH). Ids are the API's validated, unique
# ones.
_UPDATE_STAGED = text(
    """
    WITH items AS NOT MATERIALIZED (  -- read where used: the EXCEPT below runs only when ids are missing
        SELECT u.* FROM hero_update_items s,
             unnest(s.ids, s.names, s.secret_identities, s.ages, s.power_levels, s.team_ids, s.team_id_given)
             AS u(id, name, secret_identity, age, power_level, team_id, team_id_given)
        WHERE s.job_id = :job_id
    ), updated AS (
        UPDATE hero h SET
            name = COALESCE(i.name, h.name),
            secret_identity = COALESCE(i.secret_identity, h.secret_identity),
            age = COALESCE(i.age, h.age),
            power_level = COALESCE(i.power_level, h.power_level),
            team_id = CASE WHEN i.team_id_given IS TRUE THEN i.team_id ELSE h.team_id END
        FROM items i WHERE h.id = i.id
        RETURNING h.id
    ), counts AS (
        SELECT (SELECT count(*) FROM updated) AS updated,
               (SELECT cardinality(ids) FROM hero_update_items WHERE job_id = :job_id) AS asked
    )
    -- The missing ids are looked for only when some are missing (the EXCEPT costs ~10% of the job).
    SELECT updated, asked,
           CASE WHEN updated = asked THEN ARRAY[]::int[]
                ELSE ARRAY(SELECT id FROM items EXCEPT SELECT id FROM updated ORDER BY 1) END AS missing_ids
    FROM counts
    """
)


class Applied(NamedTuple):
    updated: int
    asked: int
    missing_ids: list[int]


async def stage_update(session: AsyncSession, job_id: str, items: Sequence[BulkHeroUpdate]) -> None:
    """Store a bulk update's validated items for its job (one INSERT of seven arrays, in the
    request's transaction): ~20 ms of Python to build them for 100,000 items, sent binary."""

    def column(name: str) -> list[Any] | None:
        # A field no item sets is sent as no array at all: 100,000 NULLs cost what 100,000 values do.
        values = [item.get(name) for item in items]
        return values if any(name in item for item in items) else None

    team_id_given = ["team_id" in item for item in items]
    await session.exec(
        insert(_STAGED).values(
            job_id=job_id,
            ids=[item["id"] for item in items],
            names=column("name"),
            secret_identities=column("secret_identity"),
            ages=column("age"),
            power_levels=column("power_level"),
            team_ids=column("team_id"),
            team_id_given=team_id_given if any(team_id_given) else None,
        )
    )


async def apply_staged(session: AsyncSession, job_id: str) -> Applied:
    """Apply the items staged for `job_id` in one statement, about what one
    `UPDATE ... FROM unnest(...)` of them costs (bench/bulk_update.py). A broken rule raises
    ConstraintViolation (the caller's savepoint undoes the statement)."""
    with constraint_errors():
        result = await session.exec(_UPDATE_STAGED, params={"job_id": job_id})  # type: ignore[call-overload]  # sqlmodel's exec takes no text()
    row = result.one()
    return Applied(row.updated, row.asked, list(row.missing_ids))


async def staged_items(session: AsyncSession, job_id: str) -> list[BulkHeroUpdate]:
    """The staged items as the request gave them (only to name offenders: the update never needs them)."""
    row = (await session.exec(select(_STAGED).where(_STAGED.c.job_id == job_id))).one()  # type: ignore[call-overload]  # sqlmodel's exec types no Core select of a whole table
    items: list[BulkHeroUpdate] = []
    arrays = (row.names, row.secret_identities, row.ages, row.power_levels, row.team_ids)
    for i, hero_id in enumerate(row.ids):
        item = BulkHeroUpdate(id=hero_id)
        for field, values in zip(_FIELDS, arrays, strict=True):
            if values is not None and values[i] is not None:
                item[field] = values[i]  # type: ignore[literal-required]  # field is one of _FIELDS, each a key of BulkHeroUpdate
        if row.team_id_given is not None and row.team_id_given[i]:
            item["team_id"] = row.team_ids[i]
        items.append(item)
    return items


async def drop_staged(session: AsyncSession, job_id: str) -> None:
    """Applied: the items need not wait out the record's 30 days."""
    await session.exec(delete(_STAGED).where(_STAGED.c.job_id == job_id))
