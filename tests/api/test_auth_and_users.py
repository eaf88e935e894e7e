"""Logging in, tokens, roles, and the users endpoints."""

import json
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import jwt
import pytest
from httpx import AsyncClient
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.auth import tokens
from shared.auth.passwords import hash_password
from shared.auth.tokens import ALGORITHM, AUDIENCE
from shared.models.base import now_utc
from shared.models.users import Role
from shared.settings import DEVELOPMENT_SECRET, Settings, get_settings
from tests.api.conftest import SignedIn
from tests.shared.factories import make_user


async def test_password_login_gives_a_bearer_token_that_identifies_the_user(
    client: AsyncClient, session: AsyncSession
) -> None:
    user = await make_user(session, username="ada", hashed_password=hash_password("correct horse"))
    response = await client.post("/api/v1/auth/token", data={"username": "ada", "password": "correct horse"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    me = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["id"] == user.id and "hashed_password" not in me.json()


@pytest.mark.parametrize(("password", "status"), [("wrong", 401), ("", 422)])
async def test_a_wrong_password_is_401_and_a_missing_one_422_in_problem_form(
    client: AsyncClient, session: AsyncSession, password: str, status: int
) -> None:
    await make_user(session, username="bob", hashed_password=hash_password("right password"))
    response = await client.post("/api/v1/auth/token", data={"username": "bob", "password": password})
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == response.status_code


async def test_json_sent_to_the_login_form_is_a_422_that_says_to_send_form_data(
    client: AsyncClient, session: AsyncSession
) -> None:
    await make_user(session, username="carol", hashed_password=hash_password("right password"))
    response = await client.post("/api/v1/auth/token", json={"username": "carol", "password": "right password"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422 and problem["title"] == "Unprocessable Entity"
    assert [e["field"] for e in problem["errors"]] == ["body.username", "body.password"]
    assert "form data, not JSON" in problem["detail"]
    assert "application/x-www-form-urlencoded" in problem["detail"] and "OAuth2 password flow" in problem["detail"]
    # A form with a field missing is told only what is missing.
    missing = await client.post("/api/v1/auth/token", data={"username": "carol"})
    assert missing.status_code == 422 and "form data" not in missing.json()["detail"]


async def test_expired_forged_and_missing_tokens_are_refused(client: AsyncClient, login) -> None:  # type: ignore[no-untyped-def]
    caller: SignedIn = await login()
    secret = get_settings().secret_key.get_secret_value()
    expired = jwt.encode(
        {"sub": str(caller.id), "exp": now_utc() - timedelta(minutes=1), "aud": AUDIENCE}, secret, ALGORITHM
    )
    forged = jwt.encode({"sub": str(caller.id), "exp": now_utc() + timedelta(hours=1), "aud": AUDIENCE}, "x" * 40)
    for headers in ({"Authorization": f"Bearer {expired}"}, {"Authorization": f"Bearer {forged}"}, {}):
        response = await client.get("/api/v1/users/me", headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"


async def test_a_validly_signed_token_for_no_possible_user_is_401(client: AsyncClient) -> None:
    secret = get_settings().secret_key.get_secret_value()
    for subject in (str(2**40), "0", "-3", "ada"):
        claims = {"sub": subject, "exp": now_utc() + timedelta(hours=1), "aud": AUDIENCE}
        response = await client.get(
            "/api/v1/users/me", headers={"Authorization": f"Bearer {jwt.encode(claims, secret)}"}
        )
        assert response.status_code == 401, (subject, response.text)  # 2**40 answered 422


async def test_a_token_verified_once_is_still_refused_once_it_expires(
    client: AsyncClient,
    login,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caller: SignedIn = await login()
    assert (await client.get("/api/v1/users/me", headers=caller.headers)).status_code == 200  # now cached
    lifetime = get_settings().access_token_minutes * 60
    monkeypatch.setattr(tokens, "clock", lambda: time.time() + lifetime + 1)
    response = await client.get("/api/v1/users/me", headers=caller.headers)
    assert response.status_code == 401 and response.json()["detail"] == "invalid or expired token"


async def test_only_admins_create_users_and_duplicates_are_409(client: AsyncClient, login) -> None:  # type: ignore[no-untyped-def]
    admin: SignedIn = await login(Role.admin)
    author: SignedIn = await login(Role.author)
    data = {"username": "newbie", "email": "New@Example.com", "password": "long enough", "role": "moderator"}
    assert (await client.post("/api/v1/users", json=data, headers=author.headers)).status_code == 403
    created = await client.post("/api/v1/users", json=data, headers=admin.headers)
    assert created.status_code == 201, created.text
    assert created.json()["role"] == "moderator"
    again = await client.post(
        "/api/v1/users", json=data | {"username": "other", "email": "new@example.COM"}, headers=admin.headers
    )
    assert again.status_code == 409
    assert again.json()["rule"] == "uq_user_account_email_lower"


async def test_invalid_user_input_names_each_field(client: AsyncClient, login) -> None:  # type: ignore[no-untyped-def]
    admin: SignedIn = await login(Role.admin)
    response = await client.post(
        "/api/v1/users",
        json={"username": "x", "email": "not-an-email", "password": "short", "colour": "red"},
        headers=admin.headers,
    )
    assert response.status_code == 422
    fields = {error["field"] for error in response.json()["errors"]}
    assert fields == {"body.username", "body.email", "body.password", "body.colour"}


async def test_oversized_bodies_are_413_with_a_content_length_and_chunked_alike(
    client: AsyncClient,
    login,  # type: ignore[no-untyped-def]
) -> None:
    admin: SignedIn = await login(Role.admin)
    big = {"username": "big", "email": "b@example.com", "password": "x" * 2_000_000}
    response = await client.post("/api/v1/users", json=big, headers=admin.headers)
    assert response.status_code == 413 and response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 413

    encoded = json.dumps(big).encode()

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: Transfer-Encoding chunked
        for start in range(0, len(encoded), 65_536):
            yield encoded[start : start + 65_536]

    headers = {**admin.headers, "Content-Type": "application/json"}
    chunked = await client.post("/api/v1/users", content=chunks(), headers=headers)
    assert "content-length" not in chunked.request.headers
    assert chunked.status_code == 413, chunked.text  # was 400 "There was an error parsing the body"
    assert chunked.headers["content-type"] == "application/problem+json" and chunked.json()["status"] == 413
    # The bulk routes have their own, larger limit: the same body is only validated there.
    bulk = await client.post("/api/v1/jobs/heroes/bulk-delete", content=chunks(), headers=headers)
    assert bulk.status_code == 422


def test_the_default_secret_is_refused_outside_development() -> None:
    with pytest.raises(ValueError, match="SECRET_KEY must be set"):
        Settings(environment="production", secret_key=DEVELOPMENT_SECRET)  # type: ignore[arg-type]
    assert Settings(environment="development", secret_key=DEVELOPMENT_SECRET)  # type: ignore[arg-type]


async def test_health_and_readiness(client: AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"postgres": "ok", "redis": "ok"}


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/api/v1/users/1099511627776", 422), ("/api/v1/users/2000000000", 404)],
)
async def test_an_id_past_the_database_range_is_422_not_500(
    client: AsyncClient,
    login,
    path: str,
    expected: int,  # type: ignore[no-untyped-def]
) -> None:
    admin: SignedIn = await login(Role.admin)
    response = await client.get(path, headers=admin.headers)
    assert response.status_code == expected
    assert response.headers["content-type"] == "application/problem+json"
