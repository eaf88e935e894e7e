"""The heroes domain's SQL: every hero/team read of the API, one statement (or one per level) each, and
the transfer's one-statement move."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from sqlalchemy import (
    ColumnElement,
    Integer,
    ScalarSelect,
    Update,
    and_,
    bindparam,
    func,
    text,
    update,
)
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import Select, SelectOfScalar

from shared.errors import constraint_errors
from shared.heroes.schemas import TeamWithCount
from shared.models.base import table_of
from shared.models.heroes import Hero, Team, TeamStats, TeamStatsDelta, TransferLog
from shared.pagination import keyset
from shared.schemas import TimeIdPosition

# The rows of a team page: id, name, headquarters, hero count.
TeamRows = Select[int | None, str, str | None, int]


def teams_page_statement(*, limit: int | None = None, after_name: str | None = None) -> TeamRows:
    """Teams by name with their hero counts: team_stats' folded count plus the team's deltas not
    folded yet (shared.models.heroes.TeamStats), so a page costs one row per team (and its few
    recent deltas) however many heroes it has, and is exact. `limit` makes it a page of up to
    `limit + 1` teams (shared.pagination) after the team named `after_name` (names are unique: a
    keyset); without it, every team."""
    pending = (
        select(func.coalesce(func.sum(col(TeamStatsDelta.heroes)), 0))
        .where(col(TeamStatsDelta.team_id) == col(Team.id))
        .scalar_subquery()
    )
    hero_count = (col(TeamStats.hero_count) + pending).label("hero_count")
    statement = select(Team.id, Team.name, Team.headquarters, hero_count).join(
        TeamStats, col(TeamStats.team_id) == col(Team.id)
    )
    order = (col(Team.name),)
    if limit is None:
        return statement.order_by(*order)
    return keyset(statement, order, (after_name,) if after_name is not None else None, limit=limit)


async def teams_with_hero_counts(
    session: AsyncSession, *, limit: int | None = None, after_name: str | None = None
) -> list[TeamWithCount]:
    """`teams_page_statement`'s teams, in ONE statement."""
    rows = (await session.exec(teams_page_statement(limit=limit, after_name=after_name))).all()
    # Team.id is typed optional (a Team not yet flushed has none); a primary key read back is never NULL.
    return [TeamWithCount(id=cast(int, row[0]), name=row[1], headquarters=row[2], hero_count=row[3]) for row in rows]


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
    included unless a team name is asked for. By id; `limit` makes it a page of up to `limit + 1`
    heroes (shared.pagination) after hero `after_id`; without it, every hero that matches."""
    conditions: list[ColumnElement[bool]] = []
    if team_name is not None:
        # The team's id, then its heroes by id from ix_hero_team_id_id (a join would walk every
        # hero by id, filtering by team: 3x slower for a big team at 10^6 heroes).
        conditions.append(
            col(Hero.team_id) == select(col(Team.id)).where(col(Team.name) == team_name).scalar_subquery()
        )
    if min_age is not None:
        conditions.append(col(Hero.age) >= min_age)
    if min_power is not None:
        conditions.append(col(Hero.power_level) >= min_power)
    if max_power is not None:
        conditions.append(col(Hero.power_level) <= max_power)
    statement = select(Hero)
    if conditions:
        statement = statement.where(and_(*conditions))
    order = (col(Hero.id),)
    if limit is None:
        statement = statement.order_by(*order)
    else:
        statement = keyset(statement, order, (after_id,) if after_id is not None else None, limit=limit)
    return (await session.exec(statement)).all()


# The team with the highest average hero age (ties: the lowest id), exactly, without reading every
# team: a team with deltas not folded yet is judged on its exact figures (folded + pending); among
# the others, whose folded figures are exact, only the first entry of ix_team_stats_average_age
# can win (the ORDER BY repeats the index's expression, so the planner walks it, skipping the
# teams with pending deltas). Its cost follows the deltas waiting to be folded, not the heroes.
_OLDEST_TEAM = text(
    """
    WITH pending AS (
        SELECT team_id, sum(heroes) AS heroes, sum(ages) AS ages FROM team_stats_delta GROUP BY team_id
    ), candidates AS (
        SELECT s.team_id, s.hero_count + p.heroes AS heroes, s.age_sum + p.ages AS ages
        FROM team_stats AS s JOIN pending AS p ON p.team_id = s.team_id
        UNION ALL
        (SELECT s.team_id, s.hero_count, s.age_sum FROM team_stats AS s
         WHERE s.hero_count > 0 AND NOT EXISTS (SELECT FROM pending AS p WHERE p.team_id = s.team_id)
         ORDER BY (s.age_sum::numeric / s.hero_count) DESC, s.team_id LIMIT 1)
    )
    SELECT team_id FROM candidates WHERE heroes > 0 ORDER BY ages::numeric / heroes DESC, team_id LIMIT 1
    """
).columns(team_id=Integer)


def oldest_team_statement() -> SelectOfScalar[int]:
    """The id of the team with the highest average hero age (no row when no team has heroes)."""
    oldest = _OLDEST_TEAM.subquery("oldest")
    return select(cast(ColumnElement[int], oldest.c.team_id))


def heroes_of_team_statement(
    team: int | ScalarSelect[int], *, limit: int, after_id: int | None = None
) -> SelectOfScalar[Hero]:
    """A page of the heroes of `team` (an id, or a scalar subquery choosing one: the oldest
    team's page is then ONE statement) by id, up to `limit + 1` (shared.pagination), served by
    ix_hero_team_id_id."""
    statement = select(Hero).where(col(Hero.team_id) == team)
    return keyset(statement, (col(Hero.id),), (after_id,) if after_id is not None else None, limit=limit)


async def heroes_of_team(
    session: AsyncSession, team: int | ScalarSelect[int], *, limit: int, after_id: int | None = None
) -> Sequence[Hero]:
    return (await session.exec(heroes_of_team_statement(team, limit=limit, after_id=after_id))).all()


async def transfer_history(
    session: AsyncSession, hero_id: int, *, limit: int, after: TimeIdPosition | None = None
) -> Sequence[TransferLog]:
    """A page of a hero's logged transfers, newest first (by transfer date, then id), after
    `after`, in ONE statement served by ix_transfer_log_hero_id_transfer_date_id: up to `limit + 1`
    rows (the extra one says a next page exists: shared.pagination)."""
    statement = select(TransferLog).where(col(TransferLog.hero_id) == hero_id)
    order = (col(TransferLog.transfer_date), col(TransferLog.id))
    statement = keyset(statement, order, (after.at, after.id) if after else None, limit=limit, descending=True)
    return (await session.exec(statement)).all()


async def hero_exists(session: AsyncSession, hero_id: int) -> bool:
    statement = select(col(Hero.id)).where(col(Hero.id) == hero_id)
    return (await session.exec(statement)).first() is not None


def _move_statement() -> Update:
    """UPDATE hero SET team_id = :to_team_id FROM (SELECT id, team_id FROM hero WHERE id = :hero_id
    FOR UPDATE) AS old WHERE hero.id = old.id AND old.team_id IS DISTINCT FROM :to_team_id
    RETURNING old.team_id: the move and the team it leaves, in one round trip.

    The subquery locks the row first, so concurrent transfers of one hero take turns and each
    reads the team the previous one committed (no lost update; the audit chain stays unbroken).
    No row back: no such hero, or it is already on that team."""
    hero = table_of(Hero)  # Core: the ORM-enabled UPDATE path costs more than the statement itself
    old = select(hero.c.id, hero.c.team_id).where(hero.c.id == bindparam("hero_id")).with_for_update().subquery("old")
    return (
        update(hero)
        .where(hero.c.id == old.c.id, old.c.team_id.is_distinct_from(bindparam("to_team_id")))
        .values(team_id=bindparam("to_team_id"))
        .returning(old.c.team_id)
    )


_MOVE = _move_statement()


@dataclass(frozen=True)
class Moved:
    from_team_id: int | None


async def move_hero(session: AsyncSession, hero_id: int, to_team_id: int | None) -> Moved | None:
    """Move the hero to `to_team_id` (None: no team) in ONE statement (`_move_statement`): the
    team it left, or None when nothing moved (no such hero, or it is already on that team). An
    unknown team is refused by the foreign key (ConstraintViolation on fk_hero_team_id_team)."""
    with constraint_errors():
        row = (await session.exec(_MOVE, params={"hero_id": hero_id, "to_team_id": to_team_id})).first()
    return None if row is None else Moved(from_team_id=row[0])
