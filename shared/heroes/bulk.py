"""Bulk hero jobs (up to 100,000 items): all-or-nothing, progress reported.

The whole job is one transaction. On a constraint violation nothing is kept, and a
diagnostic query names every offending hero id (the database says only which rule).
An update's items are staged as typed arrays with its job record (`stage_update`) and applied
in one SQL statement (`bulk_update_staged`).
"""

from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import (
    Annotated,
    Any,
    Required,  # pydantic needs these on Python 3.11
    Self,
)

from pydantic import ConfigDict, Field, StringConstraints, model_validator
from sqlalchemy import Float, Integer, String, delete, insert, select, text
from sqlmodel.ext.asyncio.session import AsyncSession
from typing_extensions import TypedDict

from shared.errors import ConstraintViolation, DomainError, constraint_errors
from shared.heroes import batch
from shared.jobs import records
from shared.models.heroes import ADULT_AGE, NAME_NOT_SECRET_SQL, YOUNG_HERO_MAX_POWER, HeroUpdateItems
from shared.schemas import INT4_MAX, RowId, Strict
from shared.sql import array_param

MAX_BULK_ITEMS = 100_000
UPDATE_FUNCTION = "bulk_update_heroes"  # the job that applies a staged update
CHUNK = 10_000

Progress = Callable[[int, int], Awaitable[None]]


# 1..100 characters, none of them NUL (PostgreSQL text cannot hold it); checked in pydantic-core.
HeroText = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[^\x00]*$")]


class BulkHeroUpdate(TypedDict, total=False):
    """One item of a bulk update: the hero's id and the fields to set, with PATCH's rules.

    A TypedDict checked by pydantic-core alone (no Python validators per item): 100,000
    items validate in a fraction of a second instead of seconds. The two rules that need
    Python or the stored row are checked after (`check_items`) or by the database.
    """

    __pydantic_config__ = ConfigDict(extra="forbid", strict=True)  # type: ignore[misc]  # as Strict bodies

    id: Required[RowId]
    name: HeroText
    secret_identity: HeroText
    age: Annotated[int, Field(gt=0, le=INT4_MAX)]
    power_level: Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]
    team_id: RowId | None


class BulkHeroUpdateRequest(Strict):
    items: list[BulkHeroUpdate] = Field(min_length=1, max_length=MAX_BULK_ITEMS)

    @model_validator(mode="after")
    def items_follow_the_hero_rules(self) -> Self:
        problems: list[str] = []
        ids = [item["id"] for item in self.items]
        # The usual case, no id repeated, costs one set; only a repeat pays for counting them.
        repeated = [] if len(set(ids)) == len(ids) else sorted(i for i, count in Counter(ids).items() if count > 1)
        if repeated:
            problems.append(f"each hero id may appear once; repeated: {repeated[:20]}")
        for index, item in enumerate(self.items):
            if len(item) == 1:
                problems.append(f"items.{index}: no field to update")
            elif "name" in item and item["name"].strip().lower() == "secret":
                problems.append(f'items.{index}.name: name cannot be "secret" (in any case)')
            elif item.get("age", ADULT_AGE) < ADULT_AGE and item.get("power_level", 0) > YOUNG_HERO_MAX_POWER:
                problems.append(
                    f"items.{index}: a hero under {ADULT_AGE} cannot have a power level above {YOUNG_HERO_MAX_POWER}"
                )
            if len(problems) >= 20:
                break
        if problems:
            raise ValueError("; ".join(problems))
        return self


class BulkHeroDeleteRequest(Strict):
    ids: list[RowId] = Field(min_length=1, max_length=MAX_BULK_ITEMS)


class BulkRefused(DomainError):
    """The job's input breaks a rule; nothing was written."""

    def __init__(self, rule: str | None, hero_ids: Sequence[int], message: str) -> None:
        shown = ", ".join(map(str, hero_ids[:50])) + (" ..." if len(hero_ids) > 50 else "")
        super().__init__(f"{message}; offending hero ids: {shown}" if hero_ids else message)
        self.rule = rule
        self.hero_ids = list(hero_ids)


# Every hero rule, evaluated on the merged (stored + new) values: mirrors the CHECK, UNIQUE
# and team FOREIGN KEY constraints of shared/models/heroes.py.
_RULE_BREAKERS = text(
    """
    WITH batch AS (
        SELECT * FROM unnest(:ids, :names, :secrets, :ages, :powers, :teams)
            AS b(id, name, secret_identity, age, power_level, team_id)
    ), merged AS (
        SELECT h.id,
               COALESCE(b.name, h.name) AS name,
               COALESCE(b.secret_identity, h.secret_identity) AS secret_identity,
               COALESCE(b.age, h.age) AS age,
               COALESCE(b.power_level, h.power_level) AS power_level,
               b.team_id AS new_team_id
        FROM hero h JOIN batch b ON b.id = h.id
    )
    SELECT m.id FROM merged m
    WHERE NOT (m.age > 0 AND m.power_level BETWEEN 0 AND 100
               AND {name_not_secret}
               AND (m.age >= 18 OR m.power_level <= 50))
       OR EXISTS (SELECT 1 FROM merged o WHERE o.id <> m.id
                  AND o.name = m.name AND o.secret_identity = m.secret_identity)
       OR EXISTS (SELECT 1 FROM hero o WHERE o.name = m.name AND o.secret_identity = m.secret_identity
                  AND NOT EXISTS (SELECT 1 FROM batch WHERE batch.id = o.id))
       OR (m.new_team_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM team WHERE team.id = m.new_team_id))
    ORDER BY m.id
    """.format(name_not_secret=NAME_NOT_SECRET_SQL.replace("name", "m.name", 1))
)


async def find_rule_breakers(session: AsyncSession, items: Sequence[BulkHeroUpdate]) -> list[int]:
    """Ids of the heroes whose merged values would break a hero rule, in one statement."""

    def column(name: str) -> list[Any]:
        return [item.get(name) for item in items]

    params = {
        "ids": array_param("ids", column("id"), Integer()),
        "names": array_param("names", column("name"), String()),
        "secrets": array_param("secrets", column("secret_identity"), String()),
        "ages": array_param("ages", column("age"), Integer()),
        "powers": array_param("powers", column("power_level"), Float()),
        "teams": array_param("teams", column("team_id"), Integer()),
    }
    statement = _RULE_BREAKERS.bindparams(*params.values())
    return list((await session.exec(statement)).scalars().all())  # type: ignore[call-overload]


# Staged items (shared.models.jobs.HeroUpdateItems) applied in one statement: unnest zips the
# arrays back into items (a field no item set has no array: unnest pads it with NULLs). A field an
# item left out is NULL and leaves its column as it is (COALESCE: the API never lets those fields
# be null); team_id is set wherever it was given, so an explicit null leaves the team (as in
# PATCH). Ids are the API's validated, unique ones.
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
_STAGED = HeroUpdateItems.__table__  # type: ignore[attr-defined]
_FIELDS = ("name", "secret_identity", "age", "power_level", "team_id")


async def accept_update(session: AsyncSession, items: Sequence[BulkHeroUpdate], submitted_by: int | None) -> str:
    """Accept a bulk update in the caller's transaction: its job record (whose arguments say how
    many items) and its items, staged as typed arrays; the job's id."""
    job_id = await records.accept(session, UPDATE_FUNCTION, {"item_count": len(items)}, submitted_by)
    await stage_update(session, job_id, items)
    return job_id


async def stage_update(session: AsyncSession, job_id: str, items: Sequence[BulkHeroUpdate]) -> None:
    """Store a bulk update's validated items for its job (one INSERT of seven arrays, in the
    request's transaction): ~20 ms of Python to build them for 100,000 items, sent binary."""

    def column(name: str) -> list[Any] | None:
        # A field no item sets is sent as no array at all: 100,000 NULLs cost what 100,000 values do.
        values = [item.get(name) for item in items]
        return values if any(name in item for item in items) else None

    team_id_given = ["team_id" in item for item in items]
    await session.exec(  # type: ignore[call-overload]
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


async def staged_items(session: AsyncSession, job_id: str) -> list[BulkHeroUpdate]:
    """The staged items as the request gave them (only to name offenders: the update never needs them)."""
    row = (await session.exec(select(_STAGED).where(_STAGED.c.job_id == job_id))).one()  # type: ignore[call-overload]
    items: list[BulkHeroUpdate] = []
    arrays = (row.names, row.secret_identities, row.ages, row.power_levels, row.team_ids)
    for i, hero_id in enumerate(row.ids):
        item: dict[str, Any] = {"id": hero_id}
        for field, values in zip(_FIELDS, arrays, strict=True):
            if values is not None and values[i] is not None:
                item[field] = values[i]
        if row.team_id_given is not None and row.team_id_given[i]:
            item["team_id"] = row.team_ids[i]
        items.append(item)  # type: ignore[arg-type]
    return items


async def bulk_update_staged(session: AsyncSession, job_id: str, progress: Progress) -> dict[str, Any]:
    """Apply the items staged for `job_id` (`stage_update`) in one statement, about what one
    `UPDATE ... FROM unnest(...)` of them costs (bench/bulk_update.py). Progress is reported once,
    when the statement is done (there is nothing in between to report). Only when a rule is broken
    are the items read back, to name the offenders (`find_rule_breakers`)."""
    try:
        async with session.begin_nested():
            with constraint_errors():
                result = await session.exec(_UPDATE_STAGED, params={"job_id": job_id})  # type: ignore[call-overload]
            row = result.one()
    except ConstraintViolation as violation:
        offenders = await find_rule_breakers(session, await staged_items(session, job_id))
        raise BulkRefused(violation.constraint, offenders, f"bulk update refused: {violation.message}") from None
    # Applied: the items need not wait out the record's 30 days (a failed job keeps them for a retry).
    await session.exec(delete(_STAGED).where(_STAGED.c.job_id == job_id))  # type: ignore[call-overload]
    await progress(row.asked, row.asked)
    return {"updated": row.updated, "missing_ids": list(row.missing_ids)}


async def bulk_delete(session: AsyncSession, ids: Sequence[int], progress: Progress) -> dict[str, Any]:
    """Delete heroes (their items go by ON DELETE CASCADE; TransferLogs stay: no FK)."""
    total, deleted, missing = len(ids), 0, []
    for start in range(0, total, CHUNK):
        chunk = list(ids[start : start + CHUNK])
        result = await batch.delete_heroes(session, chunk)
        deleted += len(result.ids)
        missing += result.missing_ids
        await progress(start + len(chunk), total)
    return {"deleted": deleted, "missing_ids": missing}
