"""Logging in: OAuth2 password form -> JWT bearer token."""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.security import OAuth2PasswordRequestForm

from services.api.deps import UNAUTHORIZED_HEADERS, SessionDep, SettingsDep
from services.api.problems import BODY_ERRORS, problem_responses
from shared.auth.tokens import create_access_token
from shared.users.schemas import Token
from shared.users.service import authenticate

router = APIRouter(prefix="/auth", tags=["auth"], responses=problem_responses(401, 422))


@router.post("/token", responses=problem_responses(*BODY_ERRORS))
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], session: SessionDep, settings: SettingsDep
) -> Token:
    """Exchange a username and password for a bearer token."""
    user = await authenticate(session, form.username, form.password)
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password", UNAUTHORIZED_HEADERS)
    token, expires_in = create_access_token(user.id, settings)  # type: ignore[arg-type]
    return Token(access_token=token, expires_in=expires_in)
