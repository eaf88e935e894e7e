"""Teams: create (admins), list with hero counts, detail with optional heroes and items, top team."""

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from httpx import AsyncClient
from sqlmodel import text
from sqlmodel.ext.asyncio.session import AsyncSession

from examples.eager_loading import teams_with_heroes
from shared.heroes.schemas import HeroInTeam, ItemRead, TeamDetail
from shared.models.users import Role
from tests.api.conftest import SignedIn
from tests.conftest import StatementLog
from tests.shared.factories import make_hero, make_roster, make_team, unique

# The `login` fixture: `await login(role)` -> a new user of that role with its headers.
Login = Callable[..., Awaitable[SignedIn]]

TEAMS = "/api/v1/teams"


async def clear_teams_and_heroes(session: AsyncSession) -> None:
    """Inside the test's transaction only: the test sees exactly the rows it makes."""
    await session.exec(text("DELETE FROM hero"))  # type: ignore[call-overload]
    await session.exec(text("DELETE FROM team"))  # type: ignore[call-overload]


async def test_an_admin_creates_a_team_and_a_taken_name_is_409(client: AsyncClient, login: Login) -> None:
    admin: SignedIn = await login(Role.admin)
    name = unique("Avengers")
    created = await client.post(TEAMS, json={"name": name, "headquarters": "NYC"}, headers=admin.headers)
    assert created.status_code == 201, created.text
    assert created.json() == {"id": created.json()["id"], "name": name, "headquarters": "NYC"}
    again = await client.post(TEAMS, json={"name": name}, headers=admin.headers)
    assert again.status_code == 409
    assert again.json()["rule"] == "uq_team_name"


async def test_creating_a_team_needs_an_admin(client: AsyncClient, login: Login) -> None:
    assert (await client.post(TEAMS, json={"name": unique("t")})).status_code == 401
    for role in (Role.author, Role.moderator):
        caller: SignedIn = await login(role)
        assert (await client.post(TEAMS, json={"name": unique("t")}, headers=caller.headers)).status_code == 403


async def test_bad_team_input_is_422_naming_each_field(client: AsyncClient, login: Login) -> None:
    admin: SignedIn = await login(Role.admin)
    response = await client.post(TEAMS, json={"name": "", "motto": "x"}, headers=admin.headers)
    assert response.status_code == 422
    assert {error["field"] for error in response.json()["errors"]} == {"body.name", "body.motto"}


async def test_the_team_list_shows_hero_counts_including_zero_and_pages_by_name(
    client: AsyncClient, session: AsyncSession
) -> None:
    await clear_teams_and_heroes(session)
    alpha, beta, gamma = [await make_team(session, name=name) for name in ("alpha", "beta", "gamma")]
    for _ in range(2):
        await make_hero(session, team_id=beta.id)
    await make_hero(session)  # teamless: counted nowhere
    first = await client.get(TEAMS, params={"limit": 2})
    assert first.status_code == 200
    assert [(t["name"], t["hero_count"]) for t in first.json()["items"]] == [("alpha", 0), ("beta", 2)]
    rest = await client.get(TEAMS, params={"limit": 2, "cursor": first.json()["next_cursor"]})
    assert [(t["id"], t["hero_count"]) for t in rest.json()["items"]] == [(gamma.id, 0)]
    assert rest.json()["next_cursor"] is None
    assert alpha.id is not None


async def test_the_team_list_takes_one_statement_whatever_the_size(
    client: AsyncClient, session: AsyncSession, statements: StatementLog
) -> None:
    counts = []
    for teams in (3, 30):
        await clear_teams_and_heroes(session)
        await make_roster(session, teams=teams, heroes_per_team=2, items_per_hero=0)
        with statements.record():
            response = await client.get(TEAMS, params={"limit": 100})
        assert len(response.json()["items"]) == teams
        assert all(team["hero_count"] == 2 for team in response.json()["items"])
        counts.append(statements.count)
    assert counts[0] == counts[1] == 1


async def test_a_bad_team_list_cursor_or_limit_is_422(client: AsyncClient) -> None:
    assert (await client.get(TEAMS, params={"cursor": "garbage"})).json()["errors"][0]["field"] == "query.cursor"
    assert (await client.get(TEAMS, params={"limit": 0})).status_code == 422
    assert (await client.get(TEAMS, params={"limit": 101})).status_code == 422


async def test_team_detail_shows_heroes_and_items_only_when_asked(client: AsyncClient, session: AsyncSession) -> None:
    [team] = await make_roster(session, teams=1, heroes_per_team=2, items_per_hero=3)
    plain = await client.get(f"{TEAMS}/{team.id}")
    assert plain.status_code == 200
    assert plain.json() == {"id": team.id, "name": team.name, "headquarters": None}

    with_heroes = (await client.get(f"{TEAMS}/{team.id}", params={"include": "heroes"})).json()
    assert len(with_heroes["heroes"]) == 2
    assert all("items" not in hero and hero["team_id"] == team.id for hero in with_heroes["heroes"])

    with_items = (await client.get(f"{TEAMS}/{team.id}", params={"include": "heroes,heroes.items"})).json()
    assert [len(hero["items"]) for hero in with_items["heroes"]] == [3, 3]


async def test_heroes_items_alone_implies_heroes(client: AsyncClient, session: AsyncSession) -> None:
    [team] = await make_roster(session, teams=1, heroes_per_team=1, items_per_hero=2)
    body = (await client.get(f"{TEAMS}/{team.id}", params={"include": "heroes.items"})).json()
    assert len(body["heroes"]) == 1 and len(body["heroes"][0]["items"]) == 2


@pytest.mark.parametrize("include", ["villains", "heroes,items", "heroes.powers"])
async def test_an_unknown_include_is_422_naming_the_allowed_values(
    client: AsyncClient, session: AsyncSession, include: str
) -> None:
    team = await make_team(session)
    response = await client.get(f"{TEAMS}/{team.id}", params={"include": include})
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"].startswith("query.include")
    assert "'heroes'" in error["message"] and "'heroes.items'" in error["message"]


async def test_an_unknown_team_is_404(client: AsyncClient) -> None:
    response = await client.get(f"{TEAMS}/2000000000", params={"include": "heroes"})
    assert response.status_code == 404
    assert response.json()["detail"] == "team 2000000000 does not exist"


async def test_team_detail_with_heroes_and_items_takes_the_same_statements_at_any_size(
    client: AsyncClient, session: AsyncSession, statements: StatementLog
) -> None:
    counts = []
    for heroes in (3, 30):
        [team] = await make_roster(session, teams=1, heroes_per_team=heroes, items_per_hero=2)
        with statements.record():
            response = await client.get(f"{TEAMS}/{team.id}", params={"include": "heroes,heroes.items"})
        assert sum(len(hero["items"]) for hero in response.json()["heroes"]) == heroes * 2
        counts.append(statements.count)
    assert counts[0] == counts[1] == 1  # PostgreSQL builds the nested document in one statement


async def test_top_returns_the_heroes_of_the_oldest_team(client: AsyncClient, session: AsyncSession) -> None:
    await clear_teams_and_heroes(session)
    young, old = await make_team(session), await make_team(session)
    for age in (20, 24):
        await make_hero(session, age=age, team_id=young.id)
    oldest = [await make_hero(session, age=age, team_id=old.id) for age in (50, 60)]
    await make_hero(session, age=99)  # teamless heroes form no team
    response = await client.get(f"{TEAMS}/top")
    assert response.status_code == 200
    assert [hero["id"] for hero in response.json()["items"]] == [hero.id for hero in oldest]
    assert response.json()["team_id"] == old.id and response.json()["next_cursor"] is None


async def test_top_is_empty_when_no_team_has_heroes(client: AsyncClient, session: AsyncSession) -> None:
    await clear_teams_and_heroes(session)
    await make_team(session)
    assert (await client.get(f"{TEAMS}/top")).json() == {"items": [], "next_cursor": None, "team_id": None}


async def test_top_takes_one_statement_whatever_the_size(
    client: AsyncClient, session: AsyncSession, statements: StatementLog
) -> None:
    counts = []
    for teams in (3, 30):
        await clear_teams_and_heroes(session)
        await make_roster(session, teams=teams, heroes_per_team=4, items_per_hero=0)
        with statements.record():
            response = await client.get(f"{TEAMS}/top")
        assert len(response.json()["items"]) == 4
        counts.append(statements.count)
    assert counts[0] == counts[1] == 1


async def test_include_may_also_be_repeated(client: AsyncClient, session: AsyncSession) -> None:
    [team] = await make_roster(session, teams=1, heroes_per_team=1, items_per_hero=1)
    response = await client.get(f"{TEAMS}/{team.id}", params=[("include", "heroes"), ("include", "heroes.items")])
    assert response.status_code == 200
    assert len(response.json()["heroes"][0]["items"]) == 1


async def test_the_database_built_team_document_matches_the_response_schema_field_for_field(
    client: AsyncClient, session: AsyncSession
) -> None:
    """The JSON PostgreSQL builds is exactly what the ORM objects, eagerly loaded, would serialize to
    through TeamDetail: same keys in the same order, same values (power levels with decimals too)."""
    [team] = await make_roster(session, teams=1, heroes_per_team=4, items_per_hero=3)
    await session.exec(text("UPDATE hero SET power_level = 12.75 WHERE team_id = :t").bindparams(t=team.id))  # type: ignore[call-overload]
    await make_hero(session, team_id=team.id)  # a hero without items has "items": []
    session.expunge_all()
    [loaded] = await teams_with_heroes(session, with_items=True, team_ids=[team.id])  # type: ignore[list-item]
    heroes = sorted(loaded.heroes, key=lambda hero: hero.id)  # type: ignore[arg-type,return-value]
    expected = TeamDetail(
        **loaded.model_dump(),
        heroes=[
            HeroInTeam(**hero.model_dump(), items=[ItemRead.model_validate(i) for i in sorted(hero.items, key=by_id)])
            for hero in heroes
        ],
    ).model_dump(mode="json", exclude_unset=True)  # as the route documents it: no next cursor, no key

    response = await client.get(f"{TEAMS}/{team.id}", params={"include": "heroes.items"})
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body == expected
    assert list(body) == list(expected) and list(body["heroes"][0]) == list(expected["heroes"][0])
    assert body["heroes"][0]["power_level"] == 12.75 and body["heroes"][-1]["items"] == []
    TeamDetail.model_validate_json(response.content)  # and it parses as the documented schema


def by_id(row: Any) -> int:
    return int(row.id)


async def test_a_big_teams_heroes_come_a_page_at_a_time_each_once(
    client: AsyncClient, session: AsyncSession, statements: StatementLog
) -> None:
    """The document holds `heroes_limit` heroes by id and a cursor while more follow: its size does
    not grow with the team. Each page is one statement; every hero comes once, items included."""
    [team] = await make_roster(session, teams=1, heroes_per_team=7, items_per_hero=1)
    seen: list[int] = []
    params: dict[str, object] = {"include": "heroes.items", "heroes_limit": 3}
    pages = 0
    while True:
        with statements.record():
            response = await client.get(f"{TEAMS}/{team.id}", params=params)
        assert response.status_code == 200 and statements.count == 1
        body = response.json()
        assert len(body["heroes"]) <= 3 and all(len(hero["items"]) == 1 for hero in body["heroes"])
        seen += [hero["id"] for hero in body["heroes"]]
        pages += 1
        if "heroes_next_cursor" not in body:
            break
        params["heroes_cursor"] = body["heroes_next_cursor"]
    assert pages == 3 and seen == sorted(seen) and len(set(seen)) == 7
    TeamDetail.model_validate_json(response.content)
    assert (
        await client.get(f"{TEAMS}/{team.id}", params={"include": "heroes", "heroes_limit": 1001})
    ).status_code == 422
    forged = await client.get(f"{TEAMS}/{team.id}", params={"include": "heroes", "heroes_cursor": "%%"})
    assert forged.status_code == 422 and forged.json()["errors"][0]["field"] == "query.heroes_cursor"


async def test_an_empty_team_has_an_empty_heroes_page(client: AsyncClient, session: AsyncSession) -> None:
    team = await make_team(session)
    body = (await client.get(f"{TEAMS}/{team.id}", params={"include": "heroes"})).json()
    assert body["heroes"] == [] and "heroes_next_cursor" not in body
