"""PostgreSQL unavailable is a 503 with Retry-After, never a 500, and no request waits unbounded:
a lock held elsewhere, a statement past its timeout, an exhausted pool, a refused connection, a
connection lost mid-request, and a connection lost during COMMIT (outcome unknown, said so).

These run on real connections with real commits (the test's rolled-back transaction cannot hold
a lock against the app), on the suite's own database; stopping a whole server is tests/faults'."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Response
from sqlalchemy import event, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Session
from sqlmodel import col, delete

from services.api.main import create_app
from shared.auth.tokens import create_access_token
from shared.db import WaitLimits, create_engine, create_session_factory, unit_of_work
from shared.errors import DatabaseUnavailable, OutcomeUnknown
from shared.models.heroes import Hero, Team
from shared.models.jobs import OutboxMessage
from shared.models.users import Role, User
from shared.settings import Settings, get_settings
from tests.shared.factories import make_hero, make_team, make_user

LOCK_TIMEOUT_MS = 300


@dataclass
class Live:
    app: FastAPI
    client: AsyncClient
    engine: AsyncEngine
    headers: dict[str, str]
    hero_id: int
    team_ids: list[int]


def settings_for(database_url: URL, **limits: object) -> Settings:
    url = database_url.render_as_string(hide_password=False)
    return get_settings().model_copy(update={"database_url": url, **limits})


async def live_app(settings: Settings) -> tuple[FastAPI, AsyncEngine]:
    app = create_app(settings)
    engine = create_engine(settings)
    app.state.engine = engine
    app.state.session_factory = create_session_factory(engine)
    app.state.job_pool = None  # audit jobs stay outbox rows: nothing lingers in Redis
    return app, engine


@pytest.fixture
async def live(database_url: URL) -> AsyncIterator[Live]:
    settings = settings_for(
        database_url, db_lock_timeout_ms=LOCK_TIMEOUT_MS, db_pool_size=1, db_max_overflow=0, db_pool_timeout_seconds=0.5
    )
    app, engine = await live_app(settings)
    factory = create_session_factory(engine)
    async with unit_of_work(factory) as session:
        admin = await make_user(session, role=Role.admin)
        teams = [await make_team(session) for _ in range(2)]
        hero = await make_hero(session, team_id=teams[0].id)
    token, _ = create_access_token(admin.id, settings)  # type: ignore[arg-type]
    transport = ASGITransport(app=app)
    async with AsyncClient(transport=transport, base_url="http://test") as client:
        try:
            yield Live(app, client, engine, {"Authorization": f"Bearer {token}"}, hero.id, [t.id for t in teams])  # type: ignore[arg-type,misc]
        finally:
            async with unit_of_work(factory) as session:
                await session.exec(
                    delete(OutboxMessage).where(OutboxMessage.payload["hero_id"].as_integer() == hero.id)
                )  # type: ignore[call-overload,index]
                await session.exec(delete(Hero).where(col(Hero.id) == hero.id))  # type: ignore[call-overload]
                await session.exec(delete(Team).where(col(Team.id).in_([t.id for t in teams])))  # type: ignore[call-overload]
                await session.exec(delete(User).where(col(User.id) == admin.id))  # type: ignore[call-overload]
            await engine.dispose()


def assert_503(response: Response, *, says: str) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) >= 1
    body = response.json()
    assert body["status"] == 503 and says in body["detail"], body


async def transfer(live: Live, **headers: str) -> Response:
    return await live.client.post(
        f"/api/v1/heroes/{live.hero_id}/transfer", json={"to_team_id": live.team_ids[1]}, headers=live.headers | headers
    )


async def test_a_request_blocked_by_a_table_lock_is_503_within_the_lock_timeout(
    live: Live, engine: AsyncEngine
) -> None:
    async with engine.connect() as holder:
        await holder.execute(text("LOCK TABLE hero IN ACCESS EXCLUSIVE MODE"))
        async with asyncio.timeout(LOCK_TIMEOUT_MS / 1000 + 5):  # bounded: never waits for the holder
            response = await transfer(live)
        await holder.rollback()
    assert_503(response, says="lock timeout")
    assert (await transfer(live)).status_code == 200  # once the lock is gone, the same request works


async def test_a_statement_past_its_timeout_is_503(database_url: URL, engine: AsyncEngine) -> None:
    app, app_engine = await live_app(settings_for(database_url, db_statement_timeout_ms=200, db_lock_timeout_ms=5000))
    try:
        async with engine.connect() as holder, AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as c:
            await holder.execute(text("LOCK TABLE team IN ACCESS EXCLUSIVE MODE"))
            response = await c.get("/api/v1/teams")
            await holder.rollback()
        assert_503(response, says="statement timeout")
    finally:
        await app_engine.dispose()


async def test_an_exhausted_pool_is_503_after_the_pool_timeout(live: Live) -> None:
    async with live.engine.connect() as only_connection:  # the pool holds one connection, and this is it
        await only_connection.execute(text("SELECT 1"))
        response = await live.client.get("/api/v1/teams")
    assert_503(response, says="no database connection became free")
    assert (await live.client.get("/api/v1/teams")).status_code == 200


async def test_a_refused_connection_is_503(database_url: URL) -> None:
    app, app_engine = await live_app(settings_for(database_url.set(port=1)))  # nothing listens on port 1
    try:
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as client:
            response = await client.get("/api/v1/teams")
        assert_503(response, says="cannot be reached")
    finally:
        await app_engine.dispose()


async def _terminate(engine: AsyncEngine, pid: int) -> None:
    async with engine.connect() as killer:
        await killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})


async def test_a_connection_lost_mid_request_is_unavailable_and_the_next_one_works(
    live: Live, engine: AsyncEngine
) -> None:
    factory = create_session_factory(live.engine)
    with pytest.raises(DatabaseUnavailable) as raised:
        async with unit_of_work(factory) as session:
            pid = (await session.exec(text("SELECT pg_backend_pid()"))).one()[0]  # type: ignore[call-overload]
            await _terminate(engine, pid)
            await session.exec(text("SELECT 1"))  # type: ignore[call-overload]
    assert not isinstance(raised.value, OutcomeUnknown)
    assert (await live.client.get("/api/v1/teams")).status_code == 200  # the pool replaced the dead connection


async def test_a_connection_lost_at_commit_says_the_outcome_is_unknown(live: Live, engine: AsyncEngine) -> None:
    factory = create_session_factory(live.engine)
    with pytest.raises(OutcomeUnknown):
        async with unit_of_work(factory) as session:
            await session.exec(text("SELECT 1"))  # type: ignore[call-overload]
            pid = (await session.exec(text("SELECT pg_backend_pid()"))).one()[0]  # type: ignore[call-overload]
            await _terminate(engine, pid)  # the block ends normally: the COMMIT is what fails


async def test_the_api_answers_an_unknown_commit_outcome_with_503_and_the_idempotency_advice(live: Live) -> None:
    """An API request whose COMMIT fails: a session hook ends the connection just before COMMIT."""
    terminate_next_commit = True

    def before_commit(session: object) -> None:
        nonlocal terminate_next_commit
        if terminate_next_commit:
            terminate_next_commit = False
            connection = session.connection().connection.dbapi_connection  # type: ignore[attr-defined]
            connection.run_async(lambda raw: raw.execute("SELECT pg_terminate_backend(pg_backend_pid())"))

    event.listen(Session, "before_commit", before_commit)
    try:
        response = await transfer(live, **{"Idempotency-Key": "commit-lost-1"})
    finally:
        event.remove(Session, "before_commit", before_commit)
    assert_503(response, says="the outcome is unknown; retry with the same Idempotency-Key")
    assert response.json()["rule"] == "outcome_unknown"


async def _bounds(engine: AsyncEngine) -> tuple[str, str]:
    try:
        async with engine.connect() as connection:
            statement = (await connection.execute(text("SHOW statement_timeout"))).scalar_one()
            lock = (await connection.execute(text("SHOW lock_timeout"))).scalar_one()
        return statement, lock
    finally:
        await engine.dispose()


async def test_job_engines_get_their_own_longer_bounds(database_url: URL) -> None:
    settings = settings_for(database_url)
    jobs = create_engine(settings, limits=WaitLimits.for_jobs(settings, job_timeout_seconds=600))
    assert await _bounds(jobs) == ("10min", "30s")
    assert await _bounds(create_engine(settings)) == ("10s", "2s")
