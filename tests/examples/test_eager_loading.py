"""examples/eager_loading.py: one statement per level, whatever the row count."""

import pytest
from sqlmodel import text
from sqlmodel.ext.asyncio.session import AsyncSession

from examples.eager_loading import demo, heroes_with_team_eager, teams_with_heroes
from tests.conftest import StatementLog
from tests.shared.factories import make_hero, make_roster, make_team


async def test_eager_loading_one_level(session: AsyncSession, statements: StatementLog) -> None:
    team = await make_team(session)
    await make_hero(session, team_id=team.id)
    session.expunge_all()
    with statements.record():
        heroes = await heroes_with_team_eager(session)
        names = [hero.team.name for hero in heroes if hero.team is not None]
    assert team.name in names
    assert statements.count == 2


@pytest.mark.parametrize("with_items", [False, True])
async def test_eager_loading_does_not_grow_with_rows(
    session: AsyncSession, statements: StatementLog, with_items: bool
) -> None:
    counts = []
    for teams in (10, 200):
        await session.exec(text("DELETE FROM team"))  # type: ignore[call-overload]
        await make_roster(session, teams=teams, heroes_per_team=3, items_per_hero=2)
        session.expunge_all()
        with statements.record():
            loaded = await teams_with_heroes(session, with_items=with_items)
            heroes = [hero for team in loaded for hero in team.heroes]
            items = [item for hero in heroes for item in hero.items] if with_items else []
        assert len(loaded) == teams and len(heroes) == teams * 3
        assert len(items) == (teams * 6 if with_items else 0)
        counts.append(statements.count)
    assert counts[0] == counts[1] == (3 if with_items else 2)


async def test_the_example_runs(session: AsyncSession) -> None:
    await demo(session)
