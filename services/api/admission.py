"""Who may send a large body: the caller is checked before the body is read.

FastAPI resolves a route's dependencies (the caller, its role) only after it has read and parsed
the body. For the bulk job routes, whose bodies may reach MAX_BULK_BODY_BYTES (32 MiB), that let an
anonymous caller make the API read and parse 32 MiB only to be told 401. This pure ASGI middleware
answers 401 or 403 for those routes from the headers alone, before a byte of the body is received.
The routes keep their own dependency (AdminUser): this is a gate in front, not a replacement.

It also bounds the memory bulk uploads take: at most BULK_UPLOADS_AT_ONCE of them are read at once
per process (one peaks at ~7.7x its body, ~225 MiB at the 32 MiB limit); an admin's upload beyond
that is answered 503 with Retry-After, again before its body is read.
"""

from collections.abc import Callable

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from services.api.deps import UNAUTHORIZED_HEADERS
from services.api.problems import problem_response
from shared.auth.tokens import InvalidToken, verify_token
from shared.models.users import Role


class AdmitBeforeBody:
    def __init__(self, app: ASGIApp, guarded: Callable[[str, str], bool], at_once: int) -> None:
        self.app = app
        self.guarded = guarded
        self.at_once = at_once
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.guarded(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        refusal = await self._refusal(scope)
        if refusal is None and self.in_flight >= self.at_once:
            refusal = problem_response(
                503, f"{self.at_once} bulk uploads are being read already; retry shortly", headers={"Retry-After": "2"}
            )
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        self.in_flight += 1  # no await since the check: the count cannot be overtaken
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1

    async def _refusal(self, scope: Scope) -> JSONResponse | None:
        app = scope["app"]
        authorization = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return problem_response(401, "authentication required", headers=UNAUTHORIZED_HEADERS)
        try:
            claims = verify_token(token, app.state.settings)
        except InvalidToken:
            return problem_response(401, "invalid or expired token", headers=UNAUTHORIZED_HEADERS)
        # The same cached caller the route's own dependency reads (one short read when not cached).
        async with app.state.session_factory() as session:
            caller = await app.state.caller_cache.get(session, claims)
        if caller is None:
            return problem_response(401, "unknown or inactive user, or a revoked token", headers=UNAUTHORIZED_HEADERS)
        if caller.role != Role.admin:
            return problem_response(403, "this needs the role admin")
        return None
