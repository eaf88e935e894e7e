"""examples/join_queries.py: a LEFT JOIN that loads the joined team too (contains_eager)."""

from sqlmodel.ext.asyncio.session import AsyncSession

from examples.join_queries import demo, heroes_with_teams
from tests.conftest import StatementLog
from tests.shared.factories import make_hero, make_team


async def test_heroes_with_teams_is_a_left_join_with_an_age_filter(
    session: AsyncSession, statements: StatementLog
) -> None:
    team = await make_team(session)
    on_team = await make_hero(session, age=30, team_id=team.id)
    teamless = await make_hero(session, age=40)
    await make_hero(session, age=18, team_id=team.id)
    session.expunge_all()
    with statements.record():
        heroes = await heroes_with_teams(session, older_than=18)
        found = {hero.id: (hero.team.name if hero.team else None) for hero in heroes}
    assert found[on_team.id] == team.name
    assert found[teamless.id] is None
    assert all(hero.age > 18 for hero in heroes)
    assert statements.count == 1


async def test_the_example_runs(session: AsyncSession) -> None:
    await demo(session)
