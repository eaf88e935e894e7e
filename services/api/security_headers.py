"""Security headers on every response the app sends: JSON, problem+json errors (500s included),
static files and the ops dashboard.

- `X-Content-Type-Options: nosniff`: a browser takes each response as the type it is declared
  (a JSON body or an uploaded file is never run as a script or a page).
- `Referrer-Policy: no-referrer`: nothing here needs a Referer. The dashboard links nowhere, the
  API is called by programs, and the server checks no Referer or Origin. Browsers already default
  to strict-origin-when-cross-origin; no-referrer is tighter still and costs nothing here.
- On the ops dashboard (/ops and /ops/static/*), a page an admin signs in to: a Content-Security-
  Policy that allows only this origin's own files (its script and style are files, nothing inline),
  no plugins, no <base>, forms posting here only, and no framing (`frame-ancestors 'none'`, and
  `X-Frame-Options: DENY` for browsers that predate it).
- On the interactive docs (/docs, /redoc and below; served only in development or with API_DOCS,
  Settings.docs_enabled): no framing either, and each page its own CSP (docs_policy), which
  services.api.docs sets on the page since it names the page's inline script by hash. Their assets
  are this origin's files (services.api.docs), so the policy is the dashboard's plus, exactly:
  the inline script FastAPI's page builder writes (by its SHA-256, not 'unsafe-inline': it is the
  only script that is not a file, and a hash keeps any other out); `data:` images (the icons
  inside swagger-ui.css and ReDoc's bundle); and for ReDoc alone inline styles (its page has a
  <style>, and ReDoc's styled-components insert <style> elements as it renders, with no way for
  this page to hand them a nonce) and `blob:` workers (its search index is built in a worker made
  from a Blob). Swagger UI needs neither: its styles are one file, and the style attributes React
  sets from script are not governed by CSP. ReDoc's footer also shows a Redocly logo from
  cdn.redoc.ly: the policy blocks it (one violation on the console, the bundle then hides the
  image), which is the point: the docs ask nothing of another host.

A pure ASGI middleware wrapped around the whole stack (outside Starlette's ServerErrorMiddleware,
which answers 500s after every add_middleware layer has been unwound): per response it appends a
precomputed list to the headers of `http.response.start`, nothing else. The protocol's own answers
(408, 431 and 503 in services.api.http_limits, before or beside the app) carry COMMON_HEADERS too.
"""

from collections.abc import Iterable

from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COMMON_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)
DASHBOARD_CSP = "; ".join(
    [
        "default-src 'self'",
        "base-uri 'none'",
        "object-src 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
DASHBOARD_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    *COMMON_HEADERS,
    (b"content-security-policy", DASHBOARD_CSP.encode()),
    (b"x-frame-options", b"DENY"),
)
DASHBOARD_PATH = "/ops"
# The docs pages set their own CSP (docs_policy); every response under these paths is unframeable.
DOCS_HEADERS: tuple[tuple[bytes, bytes], ...] = (*COMMON_HEADERS, (b"x-frame-options", b"DENY"))
DOCS_PATHS = ("/docs", "/redoc")


def docs_policy(script_hashes: Iterable[str], *, inline_styles: bool = False, blob_workers: bool = False) -> str:
    """The CSP of a docs page: the dashboard's, its inline scripts allowed by hash ("'sha256-...'"),
    `data:` images, and where asked inline styles and workers from blob: URLs (ReDoc's)."""
    scripts = " ".join(["'self'", *script_hashes])
    directives = [
        "default-src 'self'",
        f"script-src {scripts}",
        "style-src 'self' 'unsafe-inline'" if inline_styles else "style-src 'self'",
        "img-src 'self' data:",
        *(["worker-src 'self' blob:"] if blob_workers else []),
        "base-uri 'none'",
        "object-src 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
    return "; ".join(directives)


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def headers_for(path: str) -> tuple[tuple[bytes, bytes], ...]:
    """What a response to `path` carries: the dashboard's headers for /ops and below, no framing for
    the docs, else the common ones."""
    if _under(path, DASHBOARD_PATH):
        return DASHBOARD_HEADERS
    if any(_under(path, prefix) for prefix in DOCS_PATHS):
        return DOCS_HEADERS
    return COMMON_HEADERS


class SecurityHeaders:
    """Appends headers_for(path) to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan
            await self.app(scope, receive, send)
            return
        extra = headers_for(scope["path"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                # A new list and message: a response object may hand the same headers list to every
                # send (a cached response), which must not grow with each request.
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install(app: Starlette) -> None:
    """Wrap the app's whole middleware stack (built on its first request) in SecurityHeaders.

    `add_middleware` would place it inside ServerErrorMiddleware, so a 500 would leave without the
    headers; Starlette builds the stack in `build_middleware_stack`, hence the wrap there."""
    build = app.build_middleware_stack

    def build_with_headers() -> ASGIApp:
        return SecurityHeaders(build())

    app.build_middleware_stack = build_with_headers  # type: ignore[method-assign]  # wraps Starlette's stack builder, on this app only
