"""Transfers: moving a hero (404/409 rules, outbox row in the same commit), idempotent replays,
the transfer history, and the concurrency guarantees on real, separately committed connections."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Response
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import col, delete, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.main import create_app
from shared.auth.tokens import create_access_token
from shared.db import create_session_factory, unit_of_work
from shared.models.heroes import Hero, Team, TransferLog
from shared.models.jobs import IdempotencyRecord, OutboxMessage, OutboxTopic
from shared.models.users import Role, User
from shared.settings import get_settings
from tests.api.conftest import SignedIn
from tests.conftest import StatementLog
from tests.shared.factories import make_hero, make_team, make_user, unique

# The `login` fixture: `await login(role)` -> a new user of that role with its headers.
Login = Callable[..., Awaitable[SignedIn]]

HEROES = "/api/v1/heroes"
MISSING = 2_000_000_000


def transfer_url(hero_id: int | None) -> str:
    return f"{HEROES}/{hero_id}/transfer"


def outbox_of(hero_id: int | None) -> Any:
    """The transfer_audit outbox rows of one hero, in insertion (= commit) order."""
    return (
        select(OutboxMessage)
        .where(col(OutboxMessage.topic) == OutboxTopic.transfer_audit)
        .where(OutboxMessage.payload["hero_id"].as_integer() == hero_id)  # type: ignore[index]
        .order_by(col(OutboxMessage.id))
    )


# --- one transfer ----------------------------------------------------------------------


async def test_a_transfer_is_two_statements_the_move_and_its_outbox_row(
    client: AsyncClient, session: AsyncSession, login: Login, statements: StatementLog
) -> None:
    admin: SignedIn = await login(Role.admin)
    home, away = await make_team(session), await make_team(session)
    hero = await make_hero(session, team_id=home.id)
    with statements.record():
        response = await client.post(transfer_url(hero.id), json={"to_team_id": away.id}, headers=admin.headers)
    assert response.status_code == 200
    caller, move, intent = statements.statements  # the caller is read on every request in these tests
    assert caller.lstrip().startswith("SELECT") and "user_account" in caller
    assert move.lstrip().startswith("UPDATE hero") and "FOR UPDATE" in move
    assert intent.lstrip().startswith("INSERT INTO outbox")


async def test_a_transfer_moves_the_hero_and_records_its_audit_intent(
    client: AsyncClient, session: AsyncSession, login: Login
) -> None:
    admin: SignedIn = await login(Role.admin)
    home, away = await make_team(session), await make_team(session)
    hero = await make_hero(session, team_id=home.id)
    response = await client.post(transfer_url(hero.id), json={"to_team_id": away.id}, headers=admin.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body | {"transfer_date": None} == {
        "hero_id": hero.id,
        "from_team_id": home.id,
        "to_team_id": away.id,
        "transfer_date": None,
        "requested_by_id": admin.id,
        "idempotency_key": None,
    }
    assert "Idempotent-Replayed" not in response.headers
    session.expunge_all()
    assert (await session.get(Hero, hero.id)).team_id == away.id  # type: ignore[union-attr]
    [message] = (await session.exec(outbox_of(hero.id))).all()
    assert message.payload == body
    assert message.processed_at is None
    # The log itself is the worker's job.
    assert (await session.exec(select(TransferLog).where(col(TransferLog.hero_id) == hero.id))).all() == []


async def test_a_hero_can_leave_every_team_and_join_one_again(
    client: AsyncClient, session: AsyncSession, login: Login
) -> None:
    admin: SignedIn = await login(Role.admin)
    team = await make_team(session)
    hero = await make_hero(session, team_id=team.id)
    left = await client.post(transfer_url(hero.id), json={"to_team_id": None}, headers=admin.headers)
    assert left.status_code == 200 and left.json()["to_team_id"] is None
    back = await client.post(transfer_url(hero.id), json={"to_team_id": team.id}, headers=admin.headers)
    assert back.status_code == 200 and back.json()["from_team_id"] is None


async def test_a_transfer_to_where_the_hero_already_is_is_409_and_writes_nothing(
    client: AsyncClient, session: AsyncSession, login: Login
) -> None:
    admin: SignedIn = await login(Role.admin)
    team = await make_team(session)
    on_team = await make_hero(session, team_id=team.id)
    teamless = await make_hero(session)
    for hero, target in ((on_team, team.id), (teamless, None)):
        response = await client.post(transfer_url(hero.id), json={"to_team_id": target}, headers=admin.headers)
        assert response.status_code == 409
        assert response.json()["rule"] == "hero_already_on_team"
        assert (await session.exec(outbox_of(hero.id))).all() == []


async def test_an_unknown_hero_or_team_is_404_and_writes_nothing(
    client: AsyncClient, session: AsyncSession, login: Login
) -> None:
    admin: SignedIn = await login(Role.admin)
    team = await make_team(session)
    hero = await make_hero(session, team_id=team.id)
    no_hero = await client.post(transfer_url(MISSING), json={"to_team_id": team.id}, headers=admin.headers)
    assert no_hero.status_code == 404 and no_hero.json()["detail"] == f"hero {MISSING} does not exist"
    no_team = await client.post(transfer_url(hero.id), json={"to_team_id": MISSING}, headers=admin.headers)
    assert no_team.status_code == 404 and no_team.json()["detail"] == f"team {MISSING} does not exist"
    session.expunge_all()
    assert (await session.get(Hero, hero.id)).team_id == team.id  # type: ignore[union-attr]
    assert (await session.exec(outbox_of(hero.id))).all() == []


async def test_transfers_need_an_admin(client: AsyncClient, session: AsyncSession, login: Login) -> None:
    hero = await make_hero(session)
    team = await make_team(session)
    assert (await client.post(transfer_url(hero.id), json={"to_team_id": team.id})).status_code == 401
    for role in (Role.author, Role.moderator):
        caller: SignedIn = await login(role)
        response = await client.post(transfer_url(hero.id), json={"to_team_id": team.id}, headers=caller.headers)
        assert response.status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "body.to_team_id"), ({"to_team_id": "x"}, "body.to_team_id"), ({"to_team_id": None, "why": 1}, "body.why")],
)
async def test_a_bad_transfer_body_is_422(
    client: AsyncClient, session: AsyncSession, login: Login, body: dict[str, Any], field: str
) -> None:
    admin: SignedIn = await login(Role.admin)
    hero = await make_hero(session)
    response = await client.post(transfer_url(hero.id), json=body, headers=admin.headers)
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == [field]


# --- idempotency (on the test's transaction) -------------------------------------------


async def test_a_repeated_idempotency_key_replays_the_first_response_without_a_second_transfer(
    client: AsyncClient, session: AsyncSession, login: Login
) -> None:
    admin: SignedIn = await login(Role.admin)
    home, away = await make_team(session), await make_team(session)
    hero = await make_hero(session, team_id=home.id)
    headers = admin.headers | {"Idempotency-Key": "move-1"}
    first = await client.post(transfer_url(hero.id), json={"to_team_id": away.id}, headers=headers)
    assert first.status_code == 200 and first.json()["idempotency_key"] == "move-1"
    # Someone else moves the hero back meanwhile: the replay still answers as the first time.
    assert (await client.post(transfer_url(hero.id), json={"to_team_id": home.id}, headers=admin.headers)).is_success
    again = await client.post(transfer_url(hero.id), json={"to_team_id": away.id}, headers=headers)
    assert again.status_code == first.status_code
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    session.expunge_all()
    assert (await session.get(Hero, hero.id)).team_id == home.id  # type: ignore[union-attr]
    assert len((await session.exec(outbox_of(hero.id))).all()) == 2
    [record] = (await session.exec(select(IdempotencyRecord).where(col(IdempotencyRecord.user_id) == admin.id))).all()
    assert (record.key, record.status_code, record.response_body) == ("move-1", 200, first.json())


async def test_the_audit_intent_carries_the_key_namespaced_by_its_user(
    client: AsyncClient, session: AsyncSession, login: Login
) -> None:
    admin: SignedIn = await login(Role.admin)
    hero = await make_hero(session)
    team = await make_team(session)
    headers = admin.headers | {"Idempotency-Key": "k"}
    assert (await client.post(transfer_url(hero.id), json={"to_team_id": team.id}, headers=headers)).is_success
    [message] = (await session.exec(outbox_of(hero.id))).all()
    assert message.payload["idempotency_key"] == f"{admin.id}:k"


async def test_a_key_reused_for_another_request_is_refused(
    client: AsyncClient, session: AsyncSession, login: Login
) -> None:
    admin: SignedIn = await login(Role.admin)
    first_team, second_team = await make_team(session), await make_team(session)
    hero, other_hero = await make_hero(session), await make_hero(session)
    headers = admin.headers | {"Idempotency-Key": "once"}
    assert (await client.post(transfer_url(hero.id), json={"to_team_id": first_team.id}, headers=headers)).is_success
    for url, body in (
        (transfer_url(hero.id), {"to_team_id": second_team.id}),  # another body
        (transfer_url(other_hero.id), {"to_team_id": first_team.id}),  # another hero
    ):
        response = await client.post(url, json=body, headers=headers)
        assert response.status_code == 422
        assert response.json()["rule"] == "idempotency_key_reused"
        assert "already used for another request" in response.json()["detail"]
    session.expunge_all()
    assert (await session.get(Hero, other_hero.id)).team_id is None  # type: ignore[union-attr]


async def test_the_same_key_from_another_user_is_a_request_of_its_own(
    client: AsyncClient, session: AsyncSession, login: Login
) -> None:
    first_admin: SignedIn = await login(Role.admin)
    second_admin: SignedIn = await login(Role.admin)
    hero = await make_hero(session)
    home, away = await make_team(session), await make_team(session)
    key = {"Idempotency-Key": "shared-key"}
    one = await client.post(transfer_url(hero.id), json={"to_team_id": home.id}, headers=first_admin.headers | key)
    two = await client.post(transfer_url(hero.id), json={"to_team_id": away.id}, headers=second_admin.headers | key)
    assert one.status_code == two.status_code == 200
    assert "Idempotent-Replayed" not in two.headers
    assert two.json()["from_team_id"] == home.id


async def test_a_refused_keyed_transfer_is_not_remembered(
    client: AsyncClient, session: AsyncSession, login: Login
) -> None:
    admin: SignedIn = await login(Role.admin)
    hero = await make_hero(session)
    headers = admin.headers | {"Idempotency-Key": "retry-me"}
    refused = await client.post(transfer_url(hero.id), json={"to_team_id": MISSING}, headers=headers)
    assert refused.status_code == 404
    assert (await session.exec(select(IdempotencyRecord).where(col(IdempotencyRecord.user_id) == admin.id))).all() == []


@pytest.mark.parametrize("key", ["", "k" * 201])
async def test_an_idempotency_key_must_be_1_to_200_characters(
    client: AsyncClient, session: AsyncSession, login: Login, key: str
) -> None:
    admin: SignedIn = await login(Role.admin)
    hero = await make_hero(session)
    headers = admin.headers | {"Idempotency-Key": key}
    response = await client.post(transfer_url(hero.id), json={"to_team_id": None}, headers=headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "header.idempotency-key"


# --- history ---------------------------------------------------------------------------


async def add_history(session: AsyncSession, hero_id: int, count: int) -> list[TransferLog]:
    """Log rows as the worker would write them, one day apart, oldest first."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    logs = [
        TransferLog(
            hero_id=hero_id, to_team_id=None, transfer_date=start + timedelta(days=i), idempotency_key=unique("k")
        )
        for i in range(count)
    ]
    session.add_all(logs)
    await session.flush()
    return logs


async def test_the_history_lists_logged_transfers_newest_first_in_pages(
    client: AsyncClient, session: AsyncSession
) -> None:
    hero = await make_hero(session)
    logs = await add_history(session, hero.id, 5)  # type: ignore[arg-type]
    first = (await client.get(f"{HEROES}/{hero.id}/transfers", params={"limit": 3})).json()
    rest = await client.get(f"{HEROES}/{hero.id}/transfers", params={"limit": 3, "cursor": first["next_cursor"]})
    ids = [log["id"] for log in first["items"] + rest.json()["items"]]
    assert ids == [log.id for log in reversed(logs)]
    assert rest.json()["next_cursor"] is None


async def test_the_history_outlives_the_hero(client: AsyncClient, session: AsyncSession, login: Login) -> None:
    admin: SignedIn = await login(Role.admin)
    hero = await make_hero(session)
    await add_history(session, hero.id, 2)  # type: ignore[arg-type]
    assert (await client.delete(f"{HEROES}/{hero.id}", headers=admin.headers)).status_code == 204
    response = await client.get(f"{HEROES}/{hero.id}/transfers")
    assert response.status_code == 200 and len(response.json()["items"]) == 2


async def test_the_history_of_a_hero_that_never_moved_is_empty_and_of_no_hero_404(
    client: AsyncClient, session: AsyncSession
) -> None:
    hero = await make_hero(session)
    assert (await client.get(f"{HEROES}/{hero.id}/transfers")).json() == {"items": [], "next_cursor": None}
    assert (await client.get(f"{HEROES}/{MISSING}/transfers")).status_code == 404
    bad = await client.get(f"{HEROES}/{hero.id}/transfers", params={"cursor": "nope"})
    assert bad.status_code == 422


async def test_the_history_takes_one_statement_whatever_its_length(
    client: AsyncClient, session: AsyncSession, statements: StatementLog
) -> None:
    counts = []
    for length in (3, 30):
        hero = await make_hero(session)
        await add_history(session, hero.id, length)  # type: ignore[arg-type]
        with statements.record():
            response = await client.get(f"{HEROES}/{hero.id}/transfers")
        assert len(response.json()["items"]) == length
        counts.append(statements.count)
    assert counts[0] == counts[1] == 1


# --- concurrency: real commits on separate connections ---------------------------------


@dataclass
class Committed:
    """Rows a concurrency test committed for real, and deletes again at the end."""

    admin: User
    headers: dict[str, str]
    hero_id: int
    team_ids: list[int]


@pytest.fixture
async def committed_app(engine: AsyncEngine) -> AsyncIterator[tuple[FastAPI, async_sessionmaker[AsyncSession]]]:
    """The real app with its real unit of work: each request commits on its own connection."""
    app = create_app(get_settings())
    factory = create_session_factory(engine)
    app.state.engine = engine
    app.state.session_factory = factory
    # No job pool: the audit jobs stay as outbox rows (for the sweeper), nothing lingers in Redis.
    app.state.job_pool = None
    yield app, factory


@pytest.fixture
async def committed(
    committed_app: tuple[FastAPI, async_sessionmaker[AsyncSession]],
) -> AsyncIterator[Committed]:
    _, factory = committed_app
    async with unit_of_work(factory) as session:
        admin = await make_user(session, role=Role.admin)
        teams = [await make_team(session) for _ in range(3)]
        hero = await make_hero(session, team_id=teams[0].id)
    token, _ = create_access_token(admin.id, get_settings())  # type: ignore[arg-type]
    rows = Committed(admin, {"Authorization": f"Bearer {token}"}, hero.id, [t.id for t in teams])  # type: ignore[misc]
    try:
        yield rows
    finally:
        async with unit_of_work(factory) as session:
            made = outbox_of(rows.hero_id).with_only_columns(col(OutboxMessage.id))
            await session.exec(delete(OutboxMessage).where(col(OutboxMessage.id).in_(made)))  # type: ignore[call-overload]
            await session.exec(delete(Hero).where(col(Hero.id) == rows.hero_id))  # type: ignore[call-overload]
            await session.exec(delete(Team).where(col(Team.id).in_(rows.team_ids)))  # type: ignore[call-overload]
            await session.exec(delete(User).where(col(User.id) == rows.admin.id))  # type: ignore[call-overload]


async def test_parallel_transfers_of_one_hero_serialize_without_lost_updates(
    committed_app: tuple[FastAPI, async_sessionmaker[AsyncSession]], committed: Committed
) -> None:
    app, factory = committed_app
    targets: list[int | None] = [*committed.team_ids, None]
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client:
        responses: list[Response] = await asyncio.gather(
            *(
                client.post(
                    transfer_url(committed.hero_id),
                    json={"to_team_id": targets[i % len(targets)]},
                    headers=committed.headers,
                )
                for i in range(50)
            )
        )
    statuses = [response.status_code for response in responses]
    assert set(statuses) <= {200, 409}, [r.text for r in responses if r.status_code not in (200, 409)]
    assert statuses.count(200) >= 1
    async with factory() as session:
        messages = (await session.exec(outbox_of(committed.hero_id))).all()
        hero = await session.get(Hero, committed.hero_id)
    assert len(messages) == statuses.count(200)
    assert hero is not None and hero.team_id == messages[-1].payload["to_team_id"]
    # No lost update: each committed transfer started where the previous one ended.
    moves = [(m.payload["from_team_id"], m.payload["to_team_id"]) for m in messages]
    assert moves[0][0] == committed.team_ids[0]
    assert all(previous[1] == current[0] for previous, current in pairwise(moves))
    assert all(start != end for start, end in moves)


async def test_two_parallel_identical_keyed_requests_transfer_once_and_replay_once(
    committed_app: tuple[FastAPI, async_sessionmaker[AsyncSession]], committed: Committed
) -> None:
    app, factory = committed_app
    headers = committed.headers | {"Idempotency-Key": unique("parallel")}
    body = {"to_team_id": committed.team_ids[1]}
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client:
        first, second = await asyncio.gather(
            client.post(transfer_url(committed.hero_id), json=body, headers=headers),
            client.post(transfer_url(committed.hero_id), json=body, headers=headers),
        )
    assert first.status_code == second.status_code == 200, (first.text, second.text)
    assert first.json() == second.json()
    replayed = [r.headers.get("Idempotent-Replayed") for r in (first, second)]
    assert replayed.count("true") == 1 and replayed.count(None) == 1
    async with factory() as session:
        messages = (await session.exec(outbox_of(committed.hero_id))).all()
        records = await session.exec(
            select(func.count())
            .select_from(IdempotencyRecord)
            .where(col(IdempotencyRecord.user_id) == committed.admin.id)
        )
        assert records.one() == 1
    assert len(messages) == 1


async def test_an_out_of_range_hero_or_team_id_is_422(client: AsyncClient, session: AsyncSession, login: Login) -> None:
    admin: SignedIn = await login(Role.admin)
    hero = await make_hero(session)
    huge = 2**40
    to_huge = await client.post(transfer_url(hero.id), json={"to_team_id": huge}, headers=admin.headers)
    assert [error["field"] for error in to_huge.json()["errors"]] == ["body.to_team_id"]
    of_huge = await client.post(transfer_url(huge), json={"to_team_id": None}, headers=admin.headers)
    assert [error["field"] for error in of_huge.json()["errors"]] == ["path.hero_id"]
    history = await client.get(f"{HEROES}/{huge}/transfers")
    assert history.status_code == 422
