"""Request dependencies: the unit of work, the caller, and role checks.

`SessionDep` is the request's one transaction: it commits when the endpoint returns
and rolls back if it raises (scope="function": before the response is sent, so a
failed commit is still reported to the client). Code below only flushes.
"""

from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.auth.callers import Caller
from shared.auth.tokens import InvalidToken, user_id_from_token
from shared.db import unit_of_work
from shared.errors import PermissionDenied
from shared.models import Role
from shared.replica import Reads
from shared.settings import Settings


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with unit_of_work(request.app.state.session_factory, request.app.state.job_pool) as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


def get_reads(request: Request, session: SessionDep) -> Reads:
    """The request's replica-tolerant reads (shared.replica): the read replica while it is fresh,
    else the request's own session. Only for public lists that tolerate a few seconds' lag."""
    return Reads(session, getattr(request.app.state, "replica", None))


ReadsDep = Annotated[Reads, Depends(get_reads)]

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)

UNAUTHORIZED_HEADERS = {"WWW-Authenticate": "Bearer"}


async def get_optional_user(
    request: Request, session: SessionDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> Caller | None:
    """The caller, or None for an anonymous request. A token that is present but bad is a 401.

    Whether the token's user is still active, and its role, come from the process's CallerCache
    (read from the database at most every CALLER_CACHE_SECONDS), in the request's transaction."""
    if token is None:
        return None
    try:
        user_id = user_id_from_token(token, request.app.state.settings)
    except InvalidToken as error:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid or expired token", UNAUTHORIZED_HEADERS) from error
    caller = await request.app.state.caller_cache.get(session, user_id)
    if caller is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown or inactive user", UNAUTHORIZED_HEADERS)
    return caller


async def get_current_user(user: Annotated[Caller | None, Depends(get_optional_user)]) -> Caller:
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "authentication required", UNAUTHORIZED_HEADERS)
    return user


OptionalUser = Annotated[Caller | None, Depends(get_optional_user)]
CurrentUser = Annotated[Caller, Depends(get_current_user)]


def require_role(*roles: Role) -> Callable[..., Coroutine[Any, Any, Caller]]:
    """A dependency admitting only callers with one of `roles` (admins always pass)."""
    allowed = {*roles, Role.admin}

    async def dependency(user: CurrentUser) -> Caller:
        if user.role not in allowed:
            raise PermissionDenied(f"this needs the role {' or '.join(sorted(allowed))}")
        return user

    return dependency


AdminUser = Annotated[Caller, Depends(require_role(Role.admin))]
ModeratorUser = Annotated[Caller, Depends(require_role(Role.moderator))]


# Every keyset-paginated list takes its cursor the same way; an opaque cursor is short, so
# anything longer is refused before it is decoded.
CURSOR_MAX_LENGTH = 512
CursorParam = Annotated[
    str | None, Query(max_length=CURSOR_MAX_LENGTH, description="`next_cursor` of the previous page")
]
