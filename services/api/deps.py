"""Request dependencies: the unit of work, the job pool, the caller, and role checks.

`SessionDep` is the request's one transaction: it commits when the endpoint returns
and rolls back if it raises (scope="function": before the response is sent, so a
failed commit is still reported to the client). Code below only flushes.
"""

from collections.abc import Callable, Coroutine
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import Annotated, Any

import anyio
from arq import ArqRedis
from fastapi import Depends, HTTPException, Query, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.auth.callers import Caller
from shared.auth.tokens import InvalidToken, verify_token
from shared.db import read_only, reads_outside_transactions, unit_of_work
from shared.errors import PermissionDenied, TooManyRequests
from shared.models.users import Role
from shared.rate_limits import RateLimits
from shared.rate_limits import parse as parse_limits
from shared.replica import Reads
from shared.settings import Settings


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


# A read is safe (RFC 9110): it writes nothing, and each of its statements is a consistent read by
# itself, so its session runs them outside any transaction (shared.db.create_read_session_factory):
# one round trip per statement instead of BEGIN, the statement and COMMIT.
READ_METHODS = frozenset({"GET", "HEAD"})


class _ShieldedExit:
    """An async context manager whose exit (a commit, a rollback) a cancellation cannot cut short,
    as FastAPI shields the exit of a dependency that yields."""

    def __init__(self, manager: AbstractAsyncContextManager[AsyncSession]) -> None:
        self.manager = manager

    async def __aenter__(self) -> AsyncSession:
        return await self.manager.__aenter__()

    async def __aexit__(self, *exc_info: Any) -> bool | None:
        with anyio.CancelScope(shield=True):
            suppressed = await self.manager.__aexit__(*exc_info)
        return suppressed


async def get_session(request: Request) -> AsyncSession:
    """The request's session, entered on FastAPI's function-scoped exit stack (the one a `yield`
    dependency with scope="function" exits on: after the endpoint returns, before the response is
    sent), so it ends exactly where a yielding dependency would. A plain `async def` because FastAPI
    wraps every yielding dependency in an anyio cancel scope of its own, a tenth of a read's CPU
    under load (docs/benchmarks.md, Reads): a read whose statements ran outside any transaction has
    nothing to commit and closes without a round trip, so it needs no shield; every other request
    is the unit of work, its exit shielded here."""
    state = request.app.state
    stack: AsyncExitStack = request.scope["fastapi_function_astack"]
    if request.method in READ_METHODS:
        # An app given only a session factory (a test's, bound to its connection) reads in it.
        factory = getattr(state, "read_session_factory", state.session_factory)
        if reads_outside_transactions(factory):
            return await stack.enter_async_context(read_only(factory))
    else:
        factory = state.session_factory
    return await stack.enter_async_context(_ShieldedExit(unit_of_work(factory, state.job_pool)))


def get_job_pool(request: Request) -> ArqRedis:
    """The process's arq pool: enqueues jobs, and reads the queues for the ops views."""
    pool: ArqRedis = request.app.state.job_pool
    return pool


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
JobPool = Annotated[ArqRedis, Depends(get_job_pool)]


async def get_reads(request: Request, session: SessionDep) -> Reads:
    """The request's replica-tolerant reads (shared.replica): the read replica while it is fresh,
    else the request's own session. Only for public lists that tolerate a few seconds' lag.
    Async though it awaits nothing: FastAPI runs a plain `def` dependency in its thread pool, a
    hand-off to a thread and back on every list request for what is one object made."""
    return Reads(session, getattr(request.app.state, "replica", None))


ReadsDep = Annotated[Reads, Depends(get_reads)]

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)

# Every 401 names the scheme it wants (RFC 9110), here and in services.api.admission.
UNAUTHORIZED_HEADERS = {"WWW-Authenticate": "Bearer"}


async def get_optional_user(
    request: Request, session: SessionDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> Caller | None:
    """The caller, or None for an anonymous request. A token that is present but bad is a 401.

    Whether the token still counts (its user active, not revoked), and the user's role, come from
    the process's CallerCache (read at most every CALLER_CACHE_SECONDS), in the request's transaction."""
    if token is None:
        return None
    try:
        claims = verify_token(token, request.app.state.settings)
    except InvalidToken as error:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid or expired token", UNAUTHORIZED_HEADERS) from error
    caller: Caller | None = await request.app.state.caller_cache.get(session, claims)
    if caller is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "unknown or inactive user, or a revoked token", UNAUTHORIZED_HEADERS
        )
    return caller


async def get_current_user(user: Annotated[Caller | None, Depends(get_optional_user)]) -> Caller:
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "authentication required", UNAUTHORIZED_HEADERS)
    return user


OptionalUser = Annotated[Caller | None, Depends(get_optional_user)]
CurrentUser = Annotated[Caller, Depends(get_current_user)]

# `openapi_extra` of a route taking OptionalUser (and not CurrentUser): a public read that shows a
# signed-in caller more. FastAPI documents the bearer scheme as required; this adds the empty
# requirement (anonymous) as the other alternative: security [{"OAuth2PasswordBearer": []}, {}].
OPTIONAL_AUTH: dict[str, Any] = {"security": [{}]}


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
# The ops views (queues, jobs, the dashboard's data): operators read them; acting stays AdminUser.
OperatorUser = Annotated[Caller, Depends(require_role(Role.operator))]


# Every keyset-paginated list takes its cursor the same way; an opaque cursor is short, so
# anything longer is refused before it is decoded.
CURSOR_MAX_LENGTH = 512
CursorParam = Annotated[
    str | None, Query(max_length=CURSOR_MAX_LENGTH, description="`next_cursor` of the previous page")
]


def get_rate_limits(request: Request) -> RateLimits:
    """The process's rate limits, on its Redis client (made on first use: tests swap the client)."""
    state = request.app.state
    limits: RateLimits | None = getattr(state, "rate_limits", None)
    if limits is None:
        redis = getattr(state, "redis", None)  # an app without Redis (some tests) counts in memory
        limits = state.rate_limits = RateLimits(redis.connection_pool if redis is not None else None)
    return limits


RateLimitsDep = Annotated[RateLimits, Depends(get_rate_limits)]


def client_address(request: Request) -> str:
    """The socket's peer, or X-Forwarded-For's client when uvicorn trusts the peer
    (FORWARDED_ALLOW_IPS): uvicorn has already put the right one in request.client."""
    return request.client.host if request.client else "unknown"


def write_limit(kind: str) -> Callable[..., Coroutine[Any, Any, None]]:
    """A route dependency counting one write of `kind` for the signed-in caller (WRITE_LIMITS);
    429 with Retry-After past it, before the body is acted on."""

    async def dependency(user: CurrentUser, limits: RateLimitsDep, settings: SettingsDep) -> None:
        if kind not in settings.write_limits:
            return
        verdict = await limits.hit(parse_limits(settings.write_limits[kind]), "writes", kind, str(user.id))
        if not verdict.allowed:
            raise TooManyRequests(
                f"too many {kind} from this user; retry after {verdict.retry_after_seconds} s",
                retry_after_seconds=verdict.retry_after_seconds,
                rule="write_limit",
            )

    return dependency
