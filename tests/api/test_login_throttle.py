"""Failed logins are throttled (shared.auth.throttle), as an attacker meets it over HTTP: per
account from one client address, and per address over every account; 429 problem+json with
Retry-After, answered before any password is hashed; the owner, from another address, still signs
in; with Redis down, each process counts on its own."""

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.auth import passwords
from shared.auth.passwords import hash_password
from shared.jobs.queues import create_job_pool
from shared.settings import get_settings
from tests.shared.factories import make_user

TOKEN = "/api/v1/auth/token"
PER_ACCOUNT = 5  # the default: 5/minute;20/hour per account and address
PER_ADDRESS = 30  # 30/minute;100/hour per address


@pytest.fixture
async def from_address(app: FastAPI) -> AsyncIterator[object]:
    """`async with from_address("10.0.0.7") as client`: requests whose socket peer is that address
    (what uvicorn puts in request.client, X-Forwarded-For applied only for trusted proxies)."""
    clients: list[AsyncClient] = []

    def make(address: str) -> AsyncClient:
        client = AsyncClient(transport=ASGITransport(app=app, client=(address, 40000)), base_url="http://test")
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


async def attempt(client: AsyncClient, username: str, password: str) -> int:
    return (await client.post(TOKEN, data={"username": username, "password": password})).status_code


async def test_past_the_account_limit_an_attacker_gets_429_before_any_hash_and_the_owner_still_signs_in(
    session: AsyncSession,
    from_address,  # type: ignore[no-untyped-def]
) -> None:
    await make_user(session, username="victim", hashed_password=hash_password("the right one"))
    attacker, owner = from_address("203.0.113.9"), from_address("198.51.100.4")
    assert get_settings().login_failures_per_account == "5/minute;20/hour"
    for _ in range(PER_ACCOUNT):
        assert await attempt(attacker, "victim", "guess") == 401

    hashed_before = passwords.computed
    refused = await attacker.post(TOKEN, data={"username": "victim", "password": "the right one"})
    assert refused.status_code == 429, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.json()["rule"] == "login_throttled"
    assert passwords.computed == hashed_before  # refused before any argon2 work

    # The owner, elsewhere, is not locked out by the attacker's failures.
    assert await attempt(owner, "victim", "the right one") == 200


async def test_one_address_guessing_many_accounts_meets_the_address_limit(
    from_address,  # type: ignore[no-untyped-def]
) -> None:
    sprayer = from_address("203.0.113.50")
    statuses = [await attempt(sprayer, f"nobody{i}", "guess") for i in range(PER_ADDRESS + 1)]
    assert statuses[:PER_ADDRESS] == [401] * PER_ADDRESS
    assert statuses[PER_ADDRESS] == 429
    # Another address is unaffected.
    assert await attempt(from_address("203.0.113.51"), "nobody0", "guess") == 401


async def test_a_success_clears_the_accounts_count_for_that_address(
    session: AsyncSession,
    from_address,  # type: ignore[no-untyped-def]
) -> None:
    await make_user(session, username="forgetful", hashed_password=hash_password("remembered"))
    client = from_address("192.0.2.10")
    for _ in range(PER_ACCOUNT - 1):
        assert await attempt(client, "forgetful", "typo") == 401
    assert await attempt(client, "forgetful", "remembered") == 200
    for _ in range(PER_ACCOUNT - 1):
        assert await attempt(client, "forgetful", "typo") == 401  # a fresh count, not 429


async def test_with_redis_down_each_process_still_throttles_and_logins_still_work(
    app: FastAPI,
    session: AsyncSession,
    from_address,  # type: ignore[no-untyped-def]
) -> None:
    await make_user(session, username="steady", hashed_password=hash_password("still works"))
    dead = create_job_pool("redis://127.0.0.1:1/0")
    app.state.redis = dead
    try:
        client = from_address("192.0.2.77")
        assert await attempt(client, "steady", "still works") == 200
        for _ in range(PER_ACCOUNT):
            assert await attempt(client, "steady", "wrong") == 401
        assert await attempt(client, "steady", "wrong") == 429
        assert await attempt(from_address("192.0.2.78"), "steady", "still works") == 200
    finally:
        await dead.aclose()
