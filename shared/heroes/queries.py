"""Every hero/team read pattern of the reference, async, one statement (or one per level) each."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Text, and_, func, literal_column, tuple_
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import contains_eager, selectinload
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.heroes.schemas import TeamWithCount
from shared.models.heroes import Hero, Item, Team, TransferLog
from shared.sql import EAGER_CHUNK


async def heroes_with_teams(session: AsyncSession, *, older_than: int = 18) -> Sequence[Hero]:
    """Heroes older than `older_than` with their team (LEFT OUTER JOIN: teamless heroes stay).

    The team comes from the same join (contains_eager), so `hero.team` is loaded
    without a second query.
    """
    statement = (
        select(Hero)
        .outerjoin(Team, col(Hero.team_id) == col(Team.id))
        .where(col(Hero.age) > older_than)
        .options(contains_eager(Hero.team))  # type: ignore[arg-type]
        .order_by(col(Hero.id))
    )
    return (await session.exec(statement)).all()


async def teams_with_hero_counts(
    session: AsyncSession, *, limit: int | None = None, after_name: str | None = None
) -> list[TeamWithCount]:
    """Teams by name with how many heroes each has (teams without heroes count 0), in ONE
    statement. `after_name`/`limit` page through them (names are unique: a keyset)."""
    statement = (
        select(Team.id, Team.name, Team.headquarters, func.count(col(Hero.id)).label("hero_count"))
        .outerjoin(Hero, col(Hero.team_id) == col(Team.id))
        .group_by(col(Team.id))
        .order_by(col(Team.name))
    )
    if after_name is not None:
        statement = statement.where(col(Team.name) > after_name)
    if limit is not None:
        statement = statement.limit(limit)
    rows = (await session.exec(statement)).all()
    return [TeamWithCount(id=row[0], name=row[1], headquarters=row[2], hero_count=row[3]) for row in rows]


def _json_object(columns: Sequence[ColumnElement[Any]], **extra: ColumnElement[Any]) -> ColumnElement[Any]:
    """json_build_object('name', column, ...) over `columns` (keys are the column names) and `extra`."""
    pairs: list[Any] = []
    for column in columns:
        pairs += [literal_column(f"'{column.key}'"), column]
    for key, value in extra.items():
        pairs += [literal_column(f"'{key}'"), value]
    return func.json_build_object(*pairs)


def _json_list(element: ColumnElement[Any], order_by: ColumnElement[Any], *where: ColumnElement[bool]) -> Any:
    """The rows' `element`s as one JSON array in `order_by` order ([] for none), as a scalar subquery."""
    aggregated = func.coalesce(func.json_agg(aggregate_order_by(element, order_by)), literal_column("'[]'::json"))
    return select(aggregated).where(*where).scalar_subquery()


# Key order as in the response schemas (TeamDetail, HeroInTeam, ItemRead), so the JSON reads the same.
_TEAM_COLUMNS = (col(Team.name), col(Team.headquarters), col(Team.id))
# HeroInTeamAdmin: with the secret identity (admins only).
_HERO_COLUMNS_WITH_IDENTITY = (
    col(Hero.name),
    col(Hero.secret_identity),
    col(Hero.age),
    col(Hero.power_level),
    col(Hero.id),
    col(Hero.team_id),
)
# HeroInTeam: what anyone may see; the secret identity is never selected.
_HERO_COLUMNS = tuple(column for column in _HERO_COLUMNS_WITH_IDENTITY if column.key != "secret_identity")
_ITEM_COLUMNS = (col(Item.id), col(Item.name))


async def team_detail_json(
    session: AsyncSession,
    team_id: int,
    *,
    with_heroes: bool = False,
    with_items: bool = False,
    with_secret_identity: bool = False,
) -> str | None:
    """The team as JSON text, its heroes (by id) and their items (by id) nested in it as asked,
    built by PostgreSQL in ONE statement (json_build_object and json_agg over correlated
    subqueries), or None for an unknown team. The heroes' secret identities are in it only
    `with_secret_identity` (TeamDetailAdmin; else TeamDetail): the statement itself leaves the
    column out, so there is nothing to strip afterwards.

    The eager-loading alternative (selectinload per level, as teams_with_heroes does) materializes an ORM
    object per row and then a pydantic model per object; for a team of 2,000 heroes with 5 items
    each that is ~18x slower than letting the database build the document. The JSON is passed
    through as text, never parsed in Python.
    """
    heroes: dict[str, ColumnElement[Any]] = {}
    if with_heroes:
        items: dict[str, ColumnElement[Any]] = {}
        if with_items:
            items["items"] = _json_list(_json_object(_ITEM_COLUMNS), col(Item.id), col(Item.hero_id) == col(Hero.id))
        hero_columns = _HERO_COLUMNS_WITH_IDENTITY if with_secret_identity else _HERO_COLUMNS
        heroes["heroes"] = _json_list(
            _json_object(hero_columns, **items), col(Hero.id), col(Hero.team_id) == col(Team.id)
        )
    statement = select(_json_object(_TEAM_COLUMNS, **heroes).cast(Text)).where(col(Team.id) == team_id)
    return (await session.exec(statement)).first()


async def filter_heroes(
    session: AsyncSession,
    *,
    team_name: str | None = None,
    min_age: int | None = None,
    min_power: float | None = None,
    max_power: float | None = None,
    limit: int | None = None,
    after_id: int | None = None,
) -> Sequence[Hero]:
    """Dynamic filters: only the conditions given are applied; heroes without a team are
    included unless a team name is asked for."""
    conditions: list[ColumnElement[bool]] = []
    if team_name is not None:
        conditions.append(col(Team.name) == team_name)
    if min_age is not None:
        conditions.append(col(Hero.age) >= min_age)
    if min_power is not None:
        conditions.append(col(Hero.power_level) >= min_power)
    if max_power is not None:
        conditions.append(col(Hero.power_level) <= max_power)
    if after_id is not None:
        conditions.append(col(Hero.id) > after_id)
    statement = select(Hero).outerjoin(Team, col(Hero.team_id) == col(Team.id)).order_by(col(Hero.id))
    if conditions:
        statement = statement.where(and_(*conditions))
    if limit is not None:
        statement = statement.limit(limit)
    return (await session.exec(statement)).all()


async def heroes_of_oldest_team(session: AsyncSession) -> Sequence[Hero]:
    """Heroes of the team with the highest average hero age, in ONE statement.

    Ties on the average go to the lowest team id, so the answer is deterministic.
    """
    average_age = (
        select(col(Hero.team_id).label("team_id"), func.avg(col(Hero.age)).label("avg_age"))
        .where(col(Hero.team_id).is_not(None))
        .group_by(col(Hero.team_id))
        .subquery()
    )
    oldest_team = (
        select(average_age.c.team_id)
        .order_by(average_age.c.avg_age.desc(), average_age.c.team_id)
        .limit(1)
        .scalar_subquery()
    )
    statement = select(Hero).where(col(Hero.team_id) == oldest_team).order_by(col(Hero.id))
    return (await session.exec(statement)).all()


async def heroes_with_team_eager(session: AsyncSession) -> Sequence[Hero]:
    """Eager loading one level deep: heroes and their team (two statements in all)."""
    statement = select(Hero).options(selectinload(Hero.team, chunksize=EAGER_CHUNK)).order_by(col(Hero.id))  # type: ignore[arg-type]
    return (await session.exec(statement)).all()


async def teams_with_heroes(
    session: AsyncSession, *, with_items: bool = False, team_ids: Sequence[int] | None = None
) -> Sequence[Team]:
    """Teams with heroes (and their items): one statement per level, whatever the row count.

    selectinload, not joinedload: a joined collection repeats every team row per hero.
    """
    heroes = selectinload(Team.heroes, chunksize=EAGER_CHUNK)  # type: ignore[arg-type]
    if with_items:
        heroes = heroes.selectinload(Hero.items, chunksize=EAGER_CHUNK)  # type: ignore[arg-type]
    statement = select(Team).options(heroes).order_by(col(Team.id))
    if team_ids is not None:
        statement = statement.where(col(Team.id).in_(team_ids))
    return (await session.exec(statement)).all()


async def transfer_history(
    session: AsyncSession, hero_id: int, *, limit: int, before: tuple[datetime, int] | None = None
) -> Sequence[TransferLog]:
    """A hero's logged transfers, newest first (by transfer date, then id), in ONE statement
    served by ix_transfer_log_hero_id_transfer_date. `before` is the keyset of the last row seen."""
    statement = (
        select(TransferLog)
        .where(col(TransferLog.hero_id) == hero_id)
        .order_by(col(TransferLog.transfer_date).desc(), col(TransferLog.id).desc())
        .limit(limit)
    )
    if before is not None:
        statement = statement.where(tuple_(col(TransferLog.transfer_date), col(TransferLog.id)) < tuple_(*before))
    return (await session.exec(statement)).all()


async def hero_exists(session: AsyncSession, hero_id: int) -> bool:
    statement = select(col(Hero.id)).where(col(Hero.id) == hero_id)
    return (await session.exec(statement)).first() is not None
