"""Logging in (OAuth2 password form -> JWT bearer token) and out."""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordRequestForm

from services.api.deps import (
    UNAUTHORIZED_HEADERS,
    CurrentUser,
    RateLimitsDep,
    SessionDep,
    SettingsDep,
    client_address,
)
from services.api.problems import BODY_ERRORS, problem_responses
from shared.auth.throttle import LoginThrottle
from shared.auth.tokens import create_access_token
from shared.users.schemas import Token
from shared.users.service import authenticate, revoke_token

router = APIRouter(prefix="/auth", tags=["auth"], responses=problem_responses(401))

# The quickstart's login (the demo data's admin, `guildhall seed-demo`), as Swagger UI offers it.
LOGIN_EXAMPLE = {"username": "admin", "password": "guildhall-demo"}


@router.post(
    "/token",
    summary="Log in: a username and password for a bearer token",
    responses=problem_responses(*BODY_ERRORS, 429),
    openapi_extra={
        "requestBody": {
            "description": "An OAuth2 password-flow form (`application/x-www-form-urlencoded`), not JSON.",
            "content": {
                "application/x-www-form-urlencoded": {
                    "examples": {"demo-admin": {"summary": "The demo data's admin", "value": LOGIN_EXAMPLE}}
                }
            },
        }
    },
)
async def login(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
    limits: RateLimitsDep,
) -> Token:
    """Exchange a username and password (a form: `username=...&password=...`) for a bearer token,
    sent as `Authorization: Bearer <access_token>`. Wrong credentials are a 401. Failed attempts are
    throttled per account and client address, and per address (429 with Retry-After, before any
    hashing)."""
    throttle = LoginThrottle(limits, settings)
    address = client_address(request)
    await throttle.refuse_if_exhausted(form.username, address)
    user = await authenticate(session, form.username, form.password)
    if user is None:
        await throttle.failed(form.username, address)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password", UNAUTHORIZED_HEADERS)
    await throttle.succeeded(form.username, address)
    assert user.id is not None
    token, expires_in = create_access_token(user.id, settings, generation=user.token_generation)
    return Token(access_token=token, expires_in=expires_in)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, summary="Log out: revoke this token")
async def logout(request: Request, session: SessionDep, user: CurrentUser) -> None:
    """Revoke the token presented: it answers 401 from now on (on every API process within a few
    seconds, the server's CALLER_CACHE_SECONDS). Other tokens of the user stay valid."""
    await revoke_token(session, user)
    request.app.state.caller_cache.forget_token(user.token_id)
