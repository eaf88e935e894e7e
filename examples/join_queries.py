"""Join queries: heroes with their team from ONE LEFT OUTER JOIN, the team loaded from the joined
row (contains_eager), so `hero.team` needs no second query and teamless heroes stay in.

The join filters but does not load by itself: without contains_eager, `hero.team` would be a lazy
load, which every relationship here refuses (lazy="raise"; under asyncio it would be
MissingGreenlet). The service uses the same pattern where a row needs its parent (a post page
carries its author's and category's names: shared/blog/queries.py::_post_read_statement).

    python -m examples.join_queries
"""

from collections.abc import Sequence

from sqlalchemy.orm import contains_eager
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from examples._run import run
from shared.models.base import attribute
from shared.models.heroes import ADULT_AGE, Hero, Team


async def heroes_with_teams(session: AsyncSession, *, older_than: int = ADULT_AGE) -> Sequence[Hero]:
    """Heroes older than `older_than` with their team (LEFT OUTER JOIN: teamless heroes stay).

    The team comes from the same join (contains_eager), so `hero.team` is loaded
    without a second query.
    """
    statement = (
        select(Hero)
        .outerjoin(Team, col(Hero.team_id) == col(Team.id))
        .where(col(Hero.age) > older_than)
        .options(contains_eager(attribute(Hero.team)))  # attribute(): Hero.team as the attribute it is
        .order_by(col(Hero.id))
    )
    return (await session.exec(statement)).all()


async def demo(session: AsyncSession) -> None:
    """One hero on a team, one without, one too young for the filter."""
    team = Team(name="Example: the joiners")
    session.add(team)
    await session.flush()
    session.add_all(
        [
            Hero(name="Example: on a team", secret_identity="A", age=30, power_level=10, team_id=team.id),
            Hero(name="Example: on none", secret_identity="B", age=40, power_level=10),
            Hero(name="Example: too young", secret_identity="C", age=ADULT_AGE, power_level=10, team_id=team.id),
        ]
    )
    await session.flush()
    session.expunge_all()  # read back from the database, not from the objects just added
    for hero in await heroes_with_teams(session):
        if hero.name.startswith("Example: "):
            print(f"{hero.name}: {hero.team.name if hero.team else 'no team'}")


def main() -> None:
    run(demo)


if __name__ == "__main__":
    main()
