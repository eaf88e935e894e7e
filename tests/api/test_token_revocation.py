"""Tokens can be revoked: a logout revokes the token presented, a password change every token
issued before, and an admin's deactivation or role change every token of that user. A revoked
token answers 401 (at once here: the tests' caller cache keeps nothing; on other processes
within CALLER_CACHE_SECONDS, shown with a clock). Tokens carry iat and jti, and a lifetime longer
than ACCESS_TOKEN_MINUTES is refused even when properly signed."""

from datetime import timedelta

import jwt
from fastapi import FastAPI
from httpx import AsyncClient
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.auth.callers import CallerCache
from shared.auth.passwords import hash_password
from shared.auth.tokens import ALGORITHM, AUDIENCE, create_access_token, verify_token
from shared.models.auth import RevokedToken
from shared.models.base import now_utc
from shared.models.users import Role
from shared.settings import get_settings
from tests.api.conftest import SignedIn
from tests.api.helpers import FakeClock
from tests.shared.factories import make_user

ME = "/api/v1/users/me"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def sign_in(client: AsyncClient, username: str, password: str) -> dict[str, str]:
    response = await client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return bearer(response.json()["access_token"])


async def test_logout_revokes_the_token_presented_and_no_other(client: AsyncClient, session: AsyncSession) -> None:
    await make_user(session, username="leaver", hashed_password=hash_password("pass phrase 1"))
    laptop = await sign_in(client, "leaver", "pass phrase 1")
    phone = await sign_in(client, "leaver", "pass phrase 1")
    assert (await client.post("/api/v1/auth/logout", headers=laptop)).status_code == 204
    refused = await client.get(ME, headers=laptop)
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    assert (await client.get(ME, headers=phone)).status_code == 200
    assert (await client.post("/api/v1/auth/logout", headers=laptop)).status_code == 401


async def test_logout_prunes_revocations_of_tokens_past_their_expiry(
    client: AsyncClient,
    session: AsyncSession,
    login,  # type: ignore[no-untyped-def]
) -> None:
    caller: SignedIn = await login()
    session.add(RevokedToken(jti="long-expired", user_id=caller.id, expires_at=now_utc() - timedelta(minutes=1)))
    await session.flush()
    assert (await client.post("/api/v1/auth/logout", headers=caller.headers)).status_code == 204
    session.expunge_all()
    left = (await session.exec(select(RevokedToken.jti).where(col(RevokedToken.user_id) == caller.id))).all()
    assert left == [verify_token(caller.headers["Authorization"][7:], get_settings()).token_id]


async def test_a_password_change_revokes_every_earlier_token(client: AsyncClient, session: AsyncSession) -> None:
    await make_user(session, username="mover", hashed_password=hash_password("old password 1"))
    first, second = await sign_in(client, "mover", "old password 1"), await sign_in(client, "mover", "old password 1")
    wrong = await client.post(
        f"{ME}/password", headers=first, json={"current_password": "not it", "new_password": "new password 2"}
    )
    assert wrong.status_code == 403 and (await client.get(ME, headers=first)).status_code == 200

    changed = await client.post(
        f"{ME}/password", headers=first, json={"current_password": "old password 1", "new_password": "new password 2"}
    )
    assert changed.status_code == 200, changed.text
    for old in (first, second):
        assert (await client.get(ME, headers=old)).status_code == 401
    assert (await client.get(ME, headers=bearer(changed.json()["access_token"]))).status_code == 200
    old_login = await client.post("/api/v1/auth/token", data={"username": "mover", "password": "old password 1"})
    assert old_login.status_code == 401
    await sign_in(client, "mover", "new password 2")


async def test_an_admin_deactivating_or_demoting_a_user_revokes_their_tokens(
    client: AsyncClient,
    login,  # type: ignore[no-untyped-def]
) -> None:
    admin: SignedIn = await login(Role.admin)
    for change in ({"role": "moderator"}, {"is_active": False}):
        user: SignedIn = await login(Role.author)
        assert (await client.get(ME, headers=user.headers)).status_code == 200
        response = await client.patch(f"/api/v1/users/{user.id}", headers=admin.headers, json=change)
        assert response.status_code == 200, response.text
        assert (await client.get(ME, headers=user.headers)).status_code == 401, change
    # An unchanged value revokes nothing; an admin cannot lock themselves out.
    kept: SignedIn = await login(Role.author)
    unchanged = await client.patch(f"/api/v1/users/{kept.id}", headers=admin.headers, json={"role": "author"})
    assert unchanged.status_code == 200
    assert (await client.get(ME, headers=kept.headers)).status_code == 200
    itself = await client.patch(f"/api/v1/users/{admin.id}", headers=admin.headers, json={"is_active": False})
    assert itself.status_code == 403


async def test_on_another_process_a_revoked_token_is_refused_within_the_cache_time(
    app: FastAPI,
    client: AsyncClient,
    login,  # type: ignore[no-untyped-def]
) -> None:
    clock = FakeClock()
    app.state.caller_cache = CallerCache(ttl_seconds=2, clock=clock)
    user: SignedIn = await login()
    assert (await client.get(ME, headers=user.headers)).status_code == 200  # cached here now
    # Another process logs the token out: this process's cache does not know yet.
    other = CallerCache(ttl_seconds=2, clock=clock)
    app.state.caller_cache, mine = other, app.state.caller_cache
    assert (await client.post("/api/v1/auth/logout", headers=user.headers)).status_code == 204
    app.state.caller_cache = mine
    assert (await client.get(ME, headers=user.headers)).status_code == 200  # within CALLER_CACHE_SECONDS
    clock.now += 2.1
    assert (await client.get(ME, headers=user.headers)).status_code == 401


async def test_tokens_carry_iat_and_jti_and_a_lifetime_past_the_setting_is_refused(
    client: AsyncClient,
    login,  # type: ignore[no-untyped-def]
) -> None:
    caller: SignedIn = await login()
    settings = get_settings()
    token, _ = create_access_token(caller.id, settings)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert {"iat", "jti", "exp", "sub", "gen", "aud"} <= claims.keys()
    assert claims["exp"] - claims["iat"] == settings.access_token_minutes * 60

    secret = settings.secret_key.get_secret_value()
    now = now_utc()
    base = {"sub": str(caller.id), "aud": AUDIENCE, "iat": now, "jti": "j" * 32, "gen": 0}
    ten_years = jwt.encode({**base, "exp": now + timedelta(days=3650)}, secret, ALGORITHM)
    without_jti = {key: value for key, value in base.items() if key != "jti"}
    no_jti = jwt.encode({**without_jti, "exp": now + timedelta(minutes=5)}, secret, ALGORITHM)
    fine = jwt.encode({**base, "exp": now + timedelta(minutes=5)}, secret, ALGORITHM)
    assert (await client.get(ME, headers=bearer(ten_years))).status_code == 401
    assert (await client.get(ME, headers=bearer(no_jti))).status_code == 401
    assert (await client.get(ME, headers=bearer(fine))).status_code == 200
