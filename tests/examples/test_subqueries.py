"""examples/subqueries.py: the live aggregate subquery, and the API's kept averages agreeing with it."""

from sqlmodel.ext.asyncio.session import AsyncSession

from examples.subqueries import demo, heroes_of_oldest_team
from shared.heroes import queries
from tests.conftest import StatementLog
from tests.shared.factories import make_roster


async def test_the_live_subquery_and_the_kept_averages_name_the_same_heroes(
    session: AsyncSession, statements: StatementLog
) -> None:
    await make_roster(session, teams=12, heroes_per_team=7, items_per_hero=0)
    with statements.record():
        live = await heroes_of_oldest_team(session)
    assert statements.count == 1 and live
    kept = await queries.heroes_of_team(session, queries.oldest_team_statement().scalar_subquery(), limit=100)
    assert [hero.id for hero in kept] == [hero.id for hero in live]


async def test_the_example_runs(session: AsyncSession) -> None:
    await demo(session)
