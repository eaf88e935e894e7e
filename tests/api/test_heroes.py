"""Heroes: create, list with filters and keyset pages, read, partial update, delete, batch create."""

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from httpx import AsyncClient
from sqlmodel import col, func, select, text
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.models.heroes import Hero, Item
from shared.models.users import Role
from tests.api.conftest import SignedIn
from tests.conftest import StatementLog
from tests.shared.factories import make_hero, make_roster, make_team, unique

# The `login` fixture: `await login(role)` -> a new user of that role with its headers.
Login = Callable[..., Awaitable[SignedIn]]

HEROES = "/api/v1/heroes"
MISSING = 2_000_000_000


def hero_data(**fields: Any) -> dict[str, Any]:
    return {"name": unique("hero"), "secret_identity": unique("id"), "age": 30, "power_level": 40} | fields


async def only_these_heroes(session: AsyncSession) -> None:
    """Inside the test's transaction only: the list shows exactly the heroes the test makes."""
    await session.exec(text("DELETE FROM hero"))  # type: ignore[call-overload]


# --- create, read ----------------------------------------------------------------------


async def test_an_admin_creates_a_hero_that_anyone_can_read_without_its_secret_identity(
    client: AsyncClient, session: AsyncSession, login: Login
) -> None:
    admin: SignedIn = await login(Role.admin)
    team = await make_team(session)
    data = hero_data(team_id=team.id)
    created = await client.post(HEROES, json=data, headers=admin.headers)
    assert created.status_code == 201, created.text
    hero = created.json()
    assert hero == data | {"id": hero["id"]}
    assert (await client.get(f"{HEROES}/{hero['id']}", headers=admin.headers)).json() == hero
    public = {key: value for key, value in hero.items() if key != "secret_identity"}
    assert (await client.get(f"{HEROES}/{hero['id']}")).json() == public  # absent, not null


async def test_hero_writes_need_an_admin(client: AsyncClient, session: AsyncSession, login: Login) -> None:
    """Anonymous callers are 401, an author and a moderator 403, and neither changes anything;
    an admin is let through (each write then does what it says)."""
    hero = await make_hero(session, age=30)
    admin: SignedIn = await login(Role.admin)
    refused: list[SignedIn] = [await login(Role.author), await login(Role.moderator)]
    writes = [
        ("POST", HEROES, hero_data(), 201),
        ("POST", f"{HEROES}/batch", {"heroes": [hero_data()]}, 201),
        ("PATCH", f"{HEROES}/{hero.id}", {"age": 40}, 200),
        ("DELETE", f"{HEROES}/{hero.id}", None, 204),
    ]
    heroes_before = (await session.exec(select(func.count()).select_from(Hero))).one()
    for method, url, body, _ in writes:
        assert (await client.request(method, url, json=body)).status_code == 401, url
        for caller in refused:
            response = await client.request(method, url, json=body, headers=caller.headers)
            assert response.status_code == 403, f"{method} {url} as {caller.user.role}: {response.text}"
    assert (await session.exec(select(func.count()).select_from(Hero))).one() == heroes_before
    unchanged = await session.get(Hero, hero.id)
    assert unchanged is not None and unchanged.age == 30
    for method, url, body, status in writes:
        response = await client.request(method, url, json=body, headers=admin.headers)
        assert response.status_code == status, f"{method} {url} as admin: {response.text}"
    assert await session.get(Hero, hero.id) is None


@pytest.mark.parametrize(
    ("fields", "bad_field", "message"),
    [
        ({"age": 15, "power_level": 60}, "body", "a hero under 18 cannot have a power level above 50"),
        ({"age": 0}, "body.age", "greater than 0"),
        ({"power_level": 100.5}, "body.power_level", "less than or equal to 100"),
        ({"name": "Secret"}, "body.name", 'name cannot be "secret"'),
        ({"cape": "red"}, "body.cape", "Extra inputs are not permitted"),
    ],
)
async def test_bad_hero_input_is_422_with_the_field_and_rule(
    client: AsyncClient, login: Login, fields: dict[str, Any], bad_field: str, message: str
) -> None:
    admin: SignedIn = await login(Role.admin)
    response = await client.post(HEROES, json=hero_data(**fields), headers=admin.headers)
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == bad_field and message in error["message"]


async def test_a_hero_on_an_unknown_team_is_404(client: AsyncClient, login: Login) -> None:
    admin: SignedIn = await login(Role.admin)
    response = await client.post(HEROES, json=hero_data(team_id=MISSING), headers=admin.headers)
    assert response.status_code == 404
    assert response.json()["detail"] == f"team {MISSING} does not exist"


async def test_a_taken_name_and_secret_identity_is_409(client: AsyncClient, login: Login) -> None:
    admin: SignedIn = await login(Role.admin)
    data = hero_data()
    assert (await client.post(HEROES, json=data, headers=admin.headers)).status_code == 201
    again = await client.post(HEROES, json=data | {"age": 50}, headers=admin.headers)
    assert again.status_code == 409
    assert again.json()["rule"] == "uq_hero_name_secret_identity"


async def test_an_unknown_hero_is_404(client: AsyncClient) -> None:
    response = await client.get(f"{HEROES}/{MISSING}")
    assert response.status_code == 404
    assert response.json()["detail"] == f"hero {MISSING} does not exist"


# --- list ------------------------------------------------------------------------------


async def test_filters_apply_only_what_is_given_and_keep_teamless_heroes(
    client: AsyncClient, session: AsyncSession
) -> None:
    await only_these_heroes(session)
    team = await make_team(session)
    young = await make_hero(session, age=20, power_level=10, team_id=team.id)
    old = await make_hero(session, age=60, power_level=90, team_id=team.id)
    teamless = await make_hero(session, age=70, power_level=95)

    async def ids(**params: Any) -> list[int]:
        response = await client.get(HEROES, params=params)
        assert response.status_code == 200, response.text
        return [hero["id"] for hero in response.json()["items"]]

    assert await ids() == [young.id, old.id, teamless.id]
    assert await ids(team=team.name) == [young.id, old.id]
    assert await ids(min_age=60) == [old.id, teamless.id]
    assert await ids(team=team.name, min_age=60) == [old.id]
    assert await ids(min_power=50, max_power=92) == [old.id]
    assert await ids(team="no such team") == []


async def test_the_hero_list_pages_by_id_with_a_cursor(client: AsyncClient, session: AsyncSession) -> None:
    await only_these_heroes(session)
    heroes = [await make_hero(session) for _ in range(5)]
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        body = (await client.get(HEROES, params=params)).json()
        seen += [hero["id"] for hero in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [hero.id for hero in heroes]
    assert pages == 3


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"min_power": 80, "max_power": 20}, "query"),
        ({"limit": 0}, "query.limit"),
        ({"limit": 101}, "query.limit"),
        ({"min_age": "old"}, "query.min_age"),
        ({"max_power": 101}, "query.max_power"),
        ({"cursor": "not-a-cursor"}, "query.cursor"),
    ],
)
async def test_bad_list_parameters_are_422(client: AsyncClient, params: dict[str, Any], field: str) -> None:
    response = await client.get(HEROES, params=params)
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == [field]


async def test_an_inverted_power_range_says_why(client: AsyncClient) -> None:
    response = await client.get(HEROES, params={"min_power": 80, "max_power": 20})
    assert "min_power cannot be greater than max_power" in response.json()["detail"]


async def test_the_hero_list_takes_the_same_statements_at_any_size(
    client: AsyncClient, session: AsyncSession, statements: StatementLog
) -> None:
    counts = []
    for teams in (1, 10):
        await only_these_heroes(session)
        await make_roster(session, teams=teams, heroes_per_team=3, items_per_hero=1)
        with statements.record():
            response = await client.get(HEROES, params={"limit": 100, "min_age": 1})
        assert len(response.json()["items"]) == teams * 3
        counts.append(statements.count)
    assert counts[0] == counts[1] == 1


# --- update, delete --------------------------------------------------------------------


async def test_patch_changes_only_the_fields_given(client: AsyncClient, session: AsyncSession, login: Login) -> None:
    admin: SignedIn = await login(Role.admin)
    team = await make_team(session)
    hero = await make_hero(session, age=30, power_level=40, team_id=team.id)
    response = await client.patch(f"{HEROES}/{hero.id}", json={"power_level": 75.5}, headers=admin.headers)
    assert response.status_code == 200, response.text
    assert response.json() | {"power_level": 40} == hero.model_dump()
    assert response.json()["power_level"] == 75.5
    cleared = await client.patch(f"{HEROES}/{hero.id}", json={"team_id": None}, headers=admin.headers)
    assert cleared.json()["team_id"] is None


async def test_patch_validates_the_merged_hero_and_names_the_rule(
    client: AsyncClient, session: AsyncSession, login: Login
) -> None:
    admin: SignedIn = await login(Role.admin)
    hero = await make_hero(session, age=30, power_level=60)
    response = await client.patch(f"{HEROES}/{hero.id}", json={"age": 15}, headers=admin.headers)
    assert response.status_code == 422
    body = response.json()
    assert body["rule"] == "ck_hero_young_hero_power"
    assert body["detail"] == "a hero under 18 cannot have a power level above 50"
    session.expunge_all()
    assert (await session.get(Hero, hero.id)).age == 30  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("patch", "field"), [({"age": None}, "body"), ({"power_level": -1}, "body.power_level"), ({"x": 1}, "body.x")]
)
async def test_bad_patch_input_is_422(
    client: AsyncClient, session: AsyncSession, login: Login, patch: dict[str, Any], field: str
) -> None:
    admin: SignedIn = await login(Role.admin)
    hero = await make_hero(session)
    response = await client.patch(f"{HEROES}/{hero.id}", json=patch, headers=admin.headers)
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == [field]


async def test_patch_to_a_taken_identity_is_409_and_to_an_unknown_team_404(
    client: AsyncClient, session: AsyncSession, login: Login
) -> None:
    admin: SignedIn = await login(Role.admin)
    first = await make_hero(session)
    second = await make_hero(session)
    clash = {"name": first.name, "secret_identity": first.secret_identity}
    response = await client.patch(f"{HEROES}/{second.id}", json=clash, headers=admin.headers)
    assert response.status_code == 409
    assert response.json()["rule"] == "uq_hero_name_secret_identity"
    lost = await client.patch(f"{HEROES}/{second.id}", json={"team_id": MISSING}, headers=admin.headers)
    assert lost.status_code == 404 and lost.json()["detail"] == f"team {MISSING} does not exist"
    missing = await client.patch(f"{HEROES}/{MISSING}", json={"age": 40}, headers=admin.headers)
    assert missing.status_code == 404


async def test_delete_removes_the_hero_and_its_items(client: AsyncClient, session: AsyncSession, login: Login) -> None:
    admin: SignedIn = await login(Role.admin)
    [team] = await make_roster(session, teams=1, heroes_per_team=1, items_per_hero=2)
    hero_id = (await session.exec(select(col(Hero.id)).where(col(Hero.team_id) == team.id))).one()
    response = await client.delete(f"{HEROES}/{hero_id}", headers=admin.headers)
    assert response.status_code == 204
    assert (await client.get(f"{HEROES}/{hero_id}")).status_code == 404
    assert (await session.exec(select(Item).where(col(Item.hero_id) == hero_id))).all() == []
    assert (await client.delete(f"{HEROES}/{hero_id}", headers=admin.headers)).status_code == 404


# --- batch -----------------------------------------------------------------------------


async def test_batch_creates_every_hero_in_order_in_one_insert(
    client: AsyncClient, session: AsyncSession, login: Login, statements: StatementLog
) -> None:
    admin: SignedIn = await login(Role.admin)
    counts = []
    for size in (10, 1_000):
        heroes = [hero_data(power_level=i % 100) for i in range(size)]
        with statements.record():
            response = await client.post(f"{HEROES}/batch", json={"heroes": heroes}, headers=admin.headers)
        assert response.status_code == 201, response.text[:500]
        counts.append(sum(statement.lstrip().upper().startswith("INSERT") for statement in statements.statements))
        ids = response.json()["ids"]
        stored = {h.id: h.name for h in (await session.exec(select(Hero).where(col(Hero.id).in_(ids)))).all()}
        assert [stored[i] for i in ids] == [hero["name"] for hero in heroes]
    assert counts == [1, 1]


async def test_a_batch_over_1000_heroes_is_422(client: AsyncClient, login: Login) -> None:
    admin: SignedIn = await login(Role.admin)
    response = await client.post(
        f"{HEROES}/batch", json={"heroes": [hero_data() for _ in range(1_001)]}, headers=admin.headers
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.heroes"


async def test_an_empty_batch_is_422(client: AsyncClient, login: Login) -> None:
    admin: SignedIn = await login(Role.admin)
    response = await client.post(f"{HEROES}/batch", json={"heroes": []}, headers=admin.headers)
    assert response.status_code == 422


async def test_batch_validation_errors_name_the_index_of_each_bad_hero(
    client: AsyncClient, session: AsyncSession, login: Login
) -> None:
    admin: SignedIn = await login(Role.admin)
    heroes = [hero_data() for _ in range(6)]
    heroes[3]["age"] = -1
    heroes[5] |= {"age": 12, "power_level": 90}
    response = await client.post(f"{HEROES}/batch", json={"heroes": heroes}, headers=admin.headers)
    assert response.status_code == 422
    fields = [error["field"] for error in response.json()["errors"]]
    assert fields == ["body.heroes.3.age", "body.heroes.5"]
    stored = await session.exec(select(Hero).where(col(Hero.name).in_([h["name"] for h in heroes])))
    assert stored.all() == []


async def test_a_duplicate_within_a_batch_is_409_naming_the_rule_and_indexes(
    client: AsyncClient, session: AsyncSession, login: Login
) -> None:
    admin: SignedIn = await login(Role.admin)
    heroes = [hero_data() for _ in range(5)]
    heroes[4] = heroes[1] | {"age": 44}
    response = await client.post(f"{HEROES}/batch", json={"heroes": heroes}, headers=admin.headers)
    assert response.status_code == 409
    body = response.json()
    assert body["rule"] == "uq_hero_name_secret_identity"
    assert "heroes.1 and heroes.4" in body["detail"]
    assert {error["field"] for error in body["errors"]} == {
        f"body.heroes.{i}.{field}" for i in (1, 4) for field in ("name", "secret_identity")
    }
    stored = await session.exec(select(Hero).where(col(Hero.name).in_([h["name"] for h in heroes])))
    assert stored.all() == []


async def test_a_batch_duplicate_of_a_stored_hero_is_409_naming_the_index_and_writes_nothing(
    client: AsyncClient, session: AsyncSession, login: Login
) -> None:
    admin: SignedIn = await login(Role.admin)
    existing = await make_hero(session)
    heroes = [hero_data() for _ in range(4)]
    heroes[2] |= {"name": existing.name, "secret_identity": existing.secret_identity}
    response = await client.post(f"{HEROES}/batch", json={"heroes": heroes}, headers=admin.headers)
    assert response.status_code == 409
    body = response.json()
    assert body["rule"] == "uq_hero_name_secret_identity"
    assert "heroes.2" in body["detail"]
    assert {error["field"] for error in body["errors"]} == {"body.heroes.2.name", "body.heroes.2.secret_identity"}
    new_names = [h["name"] for i, h in enumerate(heroes) if i != 2]
    assert (await session.exec(select(Hero).where(col(Hero.name).in_(new_names)))).all() == []


async def test_a_batch_naming_an_unknown_team_is_404_naming_the_indexes(
    client: AsyncClient, session: AsyncSession, login: Login
) -> None:
    admin: SignedIn = await login(Role.admin)
    team = await make_team(session)
    heroes = [hero_data(team_id=team.id) for _ in range(4)]
    heroes[1]["team_id"] = heroes[3]["team_id"] = MISSING
    response = await client.post(f"{HEROES}/batch", json={"heroes": heroes}, headers=admin.headers)
    assert response.status_code == 404
    assert response.json()["detail"] == f"team {MISSING} does not exist (named by heroes.1, heroes.3)"
    assert (await session.exec(select(Hero).where(col(Hero.team_id) == team.id))).all() == []


# --- input the database could not take is bad input, never a 500 -----------------------


async def test_ids_and_numbers_beyond_the_integer_column_range_are_422(client: AsyncClient, login: Login) -> None:
    admin: SignedIn = await login(Role.admin)
    huge = 2**40
    requests: list[tuple[str, str, Any, str]] = [
        ("GET", f"{HEROES}/{huge}", None, "path.hero_id"),
        ("PATCH", f"{HEROES}/{huge}", {"age": 40}, "path.hero_id"),
        ("DELETE", f"{HEROES}/{huge}", None, "path.hero_id"),
        ("GET", f"/api/v1/teams/{huge}", None, "path.team_id"),
        ("POST", HEROES, hero_data(age=huge), "body.age"),
        ("POST", HEROES, hero_data(team_id=huge), "body.team_id"),
        ("POST", f"{HEROES}/batch", {"heroes": [hero_data(), hero_data(team_id=huge)]}, "body.heroes.1.team_id"),
        ("GET", f"{HEROES}?min_age={huge}", None, "query.min_age"),
    ]
    for method, url, body, field in requests:
        response = await client.request(method, url, json=body, headers=admin.headers)
        assert response.status_code == 422, (url, response.text)
        assert [error["field"] for error in response.json()["errors"]] == [field]


async def test_text_with_a_nul_character_is_422(client: AsyncClient, session: AsyncSession, login: Login) -> None:
    admin: SignedIn = await login(Role.admin)
    hero = await make_hero(session)
    requests: list[tuple[str, str, Any, str]] = [
        ("POST", HEROES, hero_data(name="a\x00b"), "body.name"),
        ("PATCH", f"{HEROES}/{hero.id}", {"secret_identity": "\x00"}, "body.secret_identity"),
        ("POST", "/api/v1/teams", {"name": "x\x00"}, "body.name"),
        ("GET", f"{HEROES}?team=a%00", None, "query.team"),
    ]
    for method, url, body, field in requests:
        response = await client.request(method, url, json=body, headers=admin.headers)
        assert response.status_code == 422, (url, response.text)
        assert [error["field"] for error in response.json()["errors"]] == [field]


async def test_bodies_do_not_juggle_types_booleans_are_not_numbers_and_strings_are_not_numbers(
    client: AsyncClient,
    login,  # type: ignore[no-untyped-def]
    session: AsyncSession,
) -> None:
    admin: SignedIn = await login(Role.admin)
    team = (await client.post("/api/v1/teams", json={"name": "Juggled"}, headers=admin.headers)).json()
    hero = {"name": "Typed", "secret_identity": "T", "age": 30, "power_level": 10, "team_id": team["id"]}
    for field, value in (("age", True), ("power_level", "1.5"), ("team_id", True), ("age", 30.0), ("age", "30")):
        response = await client.post("/api/v1/heroes", json={**hero, field: value}, headers=admin.headers)
        assert response.status_code == 422, (field, value, response.text)
        assert response.json()["errors"][0]["field"] == f"body.{field}"
    assert (await session.exec(select(func.count()).select_from(Hero).where(Hero.name == "Typed"))).one() == 0
    # What JSON means is still accepted: an int where a float is asked for.
    created = await client.post("/api/v1/heroes", json=hero, headers=admin.headers)
    assert created.status_code == 201, created.text
    bulk = await client.post(
        "/api/v1/jobs/heroes/bulk-update",
        json={"items": [{"id": created.json()["id"], "age": True}]},
        headers=admin.headers,
    )
    assert bulk.status_code == 422 and bulk.json()["errors"][0]["field"] == "body.items.0.age"
