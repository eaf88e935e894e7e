"""Subqueries: the heroes of the team with the highest average hero age, from an aggregate
subquery (the average per team), a scalar subquery over it (the top team id, ties to the lowest),
and `Hero.team_id == (...)`: ONE statement, computed from every hero each time.

The API's GET /teams/top gives the same answer without reading every hero: the averages are kept
in team_stats by triggers as heroes are written (shared/heroes/queries.py::oldest_team_statement),
so its cost does not grow with the table (10.4 s at 10^6 heroes computed live). This is the
pattern the reference shows, and the check that the kept numbers agree with the live ones
(tests/examples/test_subqueries.py).

    python -m examples.subqueries
"""

from collections.abc import Sequence

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from examples._run import run
from shared.models.heroes import Hero, Team


async def heroes_of_oldest_team(session: AsyncSession) -> Sequence[Hero]:
    """Heroes (by id) of the team with the highest average hero age (ties: the lowest team id)."""
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


async def demo(session: AsyncSession) -> None:
    """Two teams; the older one's heroes are printed."""
    young, old = Team(name="Example: the young"), Team(name="Example: the old")
    session.add_all([young, old])
    await session.flush()
    session.add_all(
        [
            Hero(name="Example: junior", secret_identity="A", age=20, power_level=10, team_id=young.id),
            Hero(name="Example: elder", secret_identity="B", age=900, power_level=10, team_id=old.id),
            Hero(name="Example: ancient", secret_identity="C", age=901, power_level=10, team_id=old.id),
        ]
    )
    await session.flush()
    for hero in await heroes_of_oldest_team(session):
        print(f"{hero.name}: age {hero.age}")


def main() -> None:
    run(demo)


if __name__ == "__main__":
    main()
