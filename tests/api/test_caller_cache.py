"""The caller cache: a request does not read its caller from the database while the entry is fresh,
and a demoted or deactivated user loses the old rights once it is not (at most 5 seconds)."""

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from pydantic import ValidationError
from sqlalchemy import update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.auth.callers import CallerCache
from shared.auth.tokens import verify_token
from shared.models.users import Role, User
from shared.settings import Settings, get_settings
from tests.api.helpers import FakeClock
from tests.conftest import StatementLog

USERS = "/api/v1/users"


async def _set(session: AsyncSession, user_id: int, **values: object) -> None:
    await session.exec(update(User).where(col(User.id) == user_id).values(**values))  # type: ignore[call-overload]
    await session.flush()


async def test_a_demoted_admin_loses_admin_rights_once_the_entry_is_stale(
    app: FastAPI,
    client: AsyncClient,
    session: AsyncSession,
    login,
    statements: StatementLog,  # type: ignore[no-untyped-def]
) -> None:
    clock = FakeClock()
    app.state.caller_cache = CallerCache(ttl_seconds=5, clock=clock)
    admin = await login(Role.admin)
    url = f"{USERS}/{admin.id}"

    with statements.record():
        assert (await client.get(url, headers=admin.headers)).status_code == 200
    first = statements.count
    with statements.record():
        assert (await client.get(url, headers=admin.headers)).status_code == 200
    assert statements.count == first - 1  # the caller came from the cache: one round trip less

    await _set(session, admin.id, role=Role.author)
    clock.now += 4.9
    assert (await client.get(url, headers=admin.headers)).status_code == 200  # still within the 5 s
    clock.now += 0.2
    assert (await client.get(url, headers=admin.headers)).status_code == 403


async def test_a_deactivated_user_is_refused_once_the_entry_is_stale(
    app: FastAPI,
    client: AsyncClient,
    session: AsyncSession,
    login,  # type: ignore[no-untyped-def]
) -> None:
    clock = FakeClock()
    app.state.caller_cache = CallerCache(ttl_seconds=2, clock=clock)
    author = await login()
    assert (await client.get(f"{USERS}/me", headers=author.headers)).status_code == 200
    await _set(session, author.id, is_active=False)
    clock.now += 2.0
    response = await client.get(f"{USERS}/me", headers=author.headers)
    assert response.status_code == 401 and response.json()["detail"] == "unknown or inactive user, or a revoked token"
    # Reactivated: back once the refusal itself is stale (refusals are cached too, as briefly).
    await _set(session, author.id, is_active=True)
    clock.now += 2.0
    assert (await client.get(f"{USERS}/me", headers=author.headers)).status_code == 200


async def test_the_cache_holds_at_most_max_entries(session: AsyncSession, login) -> None:  # type: ignore[no-untyped-def]
    cache = CallerCache(ttl_seconds=5, max_entries=2)
    users = [await login() for _ in range(3)]
    claims = [verify_token(user.headers["Authorization"].removeprefix("Bearer "), get_settings()) for user in users]
    for token in claims:
        assert (await cache.get(session, token)) is not None
    assert list(cache._entries) == [claims[1].token_id, claims[2].token_id]


def test_the_cache_cannot_be_configured_past_five_seconds() -> None:
    with pytest.raises(ValidationError, match="caller_cache_seconds"):
        Settings(caller_cache_seconds=5.1)
