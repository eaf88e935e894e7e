"""Idempotency keys expire after IDEMPOTENCY_KEY_HOURS (shared.idempotency), over HTTP through the
transfer endpoint: inside the window a repeat replays; past it, the same key is a new request (a
new transfer, its response stored in place of the old one) even while the old row is still there,
and two parallel repeats of an expired key still make one transfer and one replay."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.main import create_app
from shared.auth.tokens import create_access_token
from shared.db import create_session_factory, unit_of_work
from shared.heroes.audit import audit_waiting
from shared.models.heroes import Hero
from shared.models.jobs import IdempotencyRecord, OutboxMessage, OutboxTopic
from shared.models.users import Role
from shared.settings import get_settings
from tests.api.conftest import SignedIn
from tests.shared.factories import make_hero, make_team, make_user, unique

HOURS = get_settings().idempotency_key_hours


def transfer_url(hero_id: int | None) -> str:
    return f"/api/v1/heroes/{hero_id}/transfer"


async def age_key(session: AsyncSession, user_id: int, key: str, hours: float) -> None:
    """Make the stored key `hours` old, as if it had been first used that long ago (not pruned)."""
    await session.exec(  # type: ignore[call-overload]
        text(
            "UPDATE idempotency_key SET created_at = now() - make_interval(secs => :s) WHERE user_id = :u AND key = :k"
        ),
        params={"s": hours * 3600, "u": user_id, "k": key},
    )


async def audits_of(session: AsyncSession, hero_id: int | None) -> int:
    count = (
        select(func.count())
        .select_from(OutboxMessage)
        .where(col(OutboxMessage.topic) == OutboxTopic.transfer_audit)
        .where(OutboxMessage.payload["hero_id"].as_integer() == hero_id)  # type: ignore[index]
    )
    return int((await session.exec(count)).one())


async def test_a_repeat_inside_the_window_still_replays(client: AsyncClient, session: AsyncSession, login: Any) -> None:
    admin: SignedIn = await login(Role.admin)
    home, away = await make_team(session), await make_team(session)
    hero = await make_hero(session, team_id=home.id)
    headers = admin.headers | {"Idempotency-Key": "within"}
    first = await client.post(transfer_url(hero.id), json={"to_team_id": away.id}, headers=headers)
    assert first.status_code == 200
    await age_key(session, admin.id, "within", HOURS - 0.1)
    again = await client.post(transfer_url(hero.id), json={"to_team_id": away.id}, headers=headers)
    assert (again.status_code, again.json(), again.headers["Idempotent-Replayed"]) == (200, first.json(), "true")
    assert await audits_of(session, hero.id) == 1
    # Inside the window, the key still belongs to its first request.
    other = await client.post(transfer_url(hero.id), json={"to_team_id": home.id}, headers=headers)
    assert other.status_code == 422 and other.json()["rule"] == "idempotency_key_reused"


async def test_an_expired_key_is_a_new_request_though_its_row_is_still_there(
    client: AsyncClient, session: AsyncSession, login: Any
) -> None:
    admin: SignedIn = await login(Role.admin)
    home, away = await make_team(session), await make_team(session)
    hero = await make_hero(session, team_id=home.id)
    headers = admin.headers | {"Idempotency-Key": "expired"}
    first = await client.post(transfer_url(hero.id), json={"to_team_id": away.id}, headers=headers)
    assert first.status_code == 200
    await age_key(session, admin.id, "expired", HOURS + 0.1)
    # The hero is back home meanwhile; the same request again moves it again.
    assert (await client.post(transfer_url(hero.id), json={"to_team_id": home.id}, headers=admin.headers)).is_success
    again = await client.post(transfer_url(hero.id), json={"to_team_id": away.id}, headers=headers)
    assert again.status_code == 200 and "Idempotent-Replayed" not in again.headers
    assert again.json()["transfer_date"] != first.json()["transfer_date"]
    assert await audits_of(session, hero.id) == 3
    session.expunge_all()
    assert (await session.get(Hero, hero.id)).team_id == away.id  # type: ignore[union-attr]
    # The new response replaced the old one, and is what a repeat now replays.
    [record] = (await session.exec(select(IdempotencyRecord).where(col(IdempotencyRecord.user_id) == admin.id))).all()
    assert record.response_body == again.json()
    replay = await client.post(transfer_url(hero.id), json={"to_team_id": away.id}, headers=headers)
    assert replay.headers["Idempotent-Replayed"] == "true" and replay.json() == again.json()


async def test_an_expired_key_may_carry_another_request(client: AsyncClient, session: AsyncSession, login: Any) -> None:
    admin: SignedIn = await login(Role.admin)
    first_team, second_team = await make_team(session), await make_team(session)
    hero = await make_hero(session)
    headers = admin.headers | {"Idempotency-Key": "reused-later"}
    assert (await client.post(transfer_url(hero.id), json={"to_team_id": first_team.id}, headers=headers)).is_success
    await age_key(session, admin.id, "reused-later", HOURS + 1)
    other = await client.post(transfer_url(hero.id), json={"to_team_id": second_team.id}, headers=headers)
    assert other.status_code == 200 and other.json()["to_team_id"] == second_team.id


async def test_a_refused_request_on_an_expired_key_leaves_the_old_row(
    client: AsyncClient, session: AsyncSession, login: Any
) -> None:
    """The expired row is deleted in the request's transaction: a refused request rolls that back."""
    admin: SignedIn = await login(Role.admin)
    team = await make_team(session)
    hero = await make_hero(session)
    headers = admin.headers | {"Idempotency-Key": "then-refused"}
    assert (await client.post(transfer_url(hero.id), json={"to_team_id": team.id}, headers=headers)).is_success
    await age_key(session, admin.id, "then-refused", HOURS + 1)
    refused = await client.post(transfer_url(hero.id), json={"to_team_id": team.id}, headers=headers)
    assert refused.status_code == 409  # already on that team: a new request, refused, nothing stored
    session.expunge_all()
    [record] = (await session.exec(select(IdempotencyRecord).where(col(IdempotencyRecord.user_id) == admin.id))).all()
    assert record.response_body["to_team_id"] == team.id


async def test_a_transfer_made_again_on_an_expired_key_is_audited_too(
    client: AsyncClient, session: AsyncSession, login: Any
) -> None:
    admin: SignedIn = await login(Role.admin)
    home, away = await make_team(session), await make_team(session)
    hero = await make_hero(session, team_id=home.id)
    headers = admin.headers | {"Idempotency-Key": "audited-twice"}
    assert (await client.post(transfer_url(hero.id), json={"to_team_id": away.id}, headers=headers)).is_success
    await age_key(session, admin.id, "audited-twice", HOURS + 1)
    assert (await client.post(transfer_url(hero.id), json={"to_team_id": home.id}, headers=headers)).is_success
    assert await audit_waiting(session) == {"logged": 2, "failed": 0}


@pytest.fixture
async def committed(engine: AsyncEngine) -> AsyncIterator[tuple[FastAPI, async_sessionmaker[AsyncSession], Any]]:
    """The real app on real commits (each request on its own connection), an admin, a hero and two
    teams, all deleted again at the end (the admin's keys with it: ON DELETE CASCADE)."""
    app = create_app(get_settings())
    factory = create_session_factory(engine)
    app.state.engine, app.state.session_factory, app.state.job_pool = engine, factory, None
    async with unit_of_work(factory) as session:
        admin = await make_user(session, role=Role.admin)
        teams = [await make_team(session), await make_team(session)]
        hero = await make_hero(session, team_id=teams[0].id)
    token, _ = create_access_token(admin.id, get_settings())  # type: ignore[arg-type]
    rows = {"admin": admin.id, "headers": {"Authorization": f"Bearer {token}"}, "hero": hero.id, "teams": teams}
    try:
        yield app, factory, rows
    finally:
        async with unit_of_work(factory) as session:
            for statement, value in (
                ("DELETE FROM outbox WHERE (payload->>'hero_id')::int = :v", hero.id),
                ("DELETE FROM hero WHERE id = :v", hero.id),
                ("DELETE FROM team WHERE id = ANY(:v)", [team.id for team in teams]),
                ("DELETE FROM user_account WHERE id = :v", admin.id),
            ):
                await session.exec(text(statement), params={"v": value})  # type: ignore[call-overload]


async def test_two_parallel_repeats_of_an_expired_key_transfer_once_and_replay_once(
    committed: tuple[FastAPI, async_sessionmaker[AsyncSession], Any],
) -> None:
    app, factory, rows = committed
    key = unique("parallel-expired")
    headers = rows["headers"] | {"Idempotency-Key": key}
    url, body = transfer_url(rows["hero"]), {"to_team_id": rows["teams"][1].id}
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client:
        assert (await client.post(url, json=body, headers=headers)).is_success
        async with unit_of_work(factory) as session:
            await age_key(session, rows["admin"], key, HOURS + 1)
            back = {"to_team_id": rows["teams"][0].id}
        assert (await client.post(url, json=back, headers=rows["headers"])).is_success
        first, second = await asyncio.gather(
            client.post(url, json=body, headers=headers), client.post(url, json=body, headers=headers)
        )
    assert first.status_code == second.status_code == 200, (first.text, second.text)
    assert first.json() == second.json()
    assert sorted(str(r.headers.get("Idempotent-Replayed")) for r in (first, second)) == ["None", "true"]
    async with factory() as session:
        assert await audits_of(session, rows["hero"]) == 3  # the first, the move back, one new transfer
        records = select(func.count()).select_from(IdempotencyRecord)
        assert (await session.exec(records.where(col(IdempotencyRecord.user_id) == rows["admin"]))).one() == 1
