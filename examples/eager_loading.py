"""Eager loading, each level its own statement: heroes with their team (selectinload of a
many-to-one), and teams with their heroes and the heroes' items (selectinload of collections,
chained), with the response shapes such nested reads would answer.

selectinload, not joinedload: a joined collection repeats every team row per hero. Every
selectinload passes chunksize=EAGER_CHUNK, so a level stays one statement for any size the service
serves (asyncpg takes at most 32,767 parameters). The API's own nested read goes further and lets
PostgreSQL build the document (shared/heroes/team_document.py::team_detail_json, about 18x faster for a
team of 2,000 heroes with 5 items each); tests/api/test_teams.py holds the two to the same answer.

    python -m examples.eager_loading
"""

from collections.abc import Sequence

from sqlalchemy.orm import selectinload
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from examples._run import run
from shared.heroes.schemas import HeroRead, ItemRead, TeamRead
from shared.models.base import attribute
from shared.models.heroes import Hero, Item, Team
from shared.sql import EAGER_CHUNK


class HeroWithItems(HeroRead):
    items: list[ItemRead]


class TeamWithHeroes(TeamRead):
    heroes: list[HeroRead]


class TeamWithHeroesAndItems(TeamRead):
    heroes: list[HeroWithItems]


async def heroes_with_team_eager(session: AsyncSession) -> Sequence[Hero]:
    """Eager loading one level deep: heroes and their team (two statements in all)."""
    team = selectinload(attribute(Hero.team), chunksize=EAGER_CHUNK)  # attribute(): Hero.team as the attribute it is
    return (await session.exec(select(Hero).options(team).order_by(col(Hero.id)))).all()


async def teams_with_heroes(
    session: AsyncSession, *, with_items: bool = False, team_ids: Sequence[int] | None = None
) -> Sequence[Team]:
    """Teams with heroes (and their items): one statement per level, whatever the row count."""
    heroes = selectinload(attribute(Team.heroes), chunksize=EAGER_CHUNK)
    if with_items:
        heroes = heroes.selectinload(attribute(Hero.items), chunksize=EAGER_CHUNK)
    statement = select(Team).options(heroes).order_by(col(Team.id))
    if team_ids is not None:
        statement = statement.where(col(Team.id).in_(team_ids))
    return (await session.exec(statement)).all()


async def demo(session: AsyncSession) -> None:
    """A team of two heroes with an item each, read back eagerly and shaped for a response."""
    team = Team(name="Example: the eager")
    session.add(team)
    await session.flush()
    heroes = [
        Hero(name=f"Example: hero {i}", secret_identity=f"E{i}", age=30, power_level=10, team_id=team.id)
        for i in range(2)
    ]
    session.add_all(heroes)
    await session.flush()
    session.add_all(Item(name=f"Example: item of {hero.name}", hero_id=hero.id) for hero in heroes if hero.id)
    await session.flush()
    assert team.id is not None
    session.expunge_all()
    [loaded] = await teams_with_heroes(session, with_items=True, team_ids=[team.id])
    print(TeamWithHeroesAndItems.model_validate(loaded, from_attributes=True).model_dump_json(indent=2))
    print("heroes with their team:", sum(1 for hero in await heroes_with_team_eager(session) if hero.team))


def main() -> None:
    run(demo)


if __name__ == "__main__":
    main()
