"""The interactive docs, /docs (Swagger UI) and /redoc (ReDoc), with no CDN.

FastAPI's own pages load Swagger UI and ReDoc from jsDelivr, so without internet they were blank.
The assets now come from the `fastapi-offline` package, which bundles exactly these files
(swagger-ui-bundle.js, swagger-ui.css, redoc.standalone.js, favicon.png); only its files are used,
not its FastAPIOffline factory. They are served under /docs/static/ by this app, and the pages are
FastAPI's own (get_swagger_ui_html, get_redoc_html) pointed at them: same origin, nothing else.

Each page carries its own Content-Security-Policy (services.api.security_headers.docs_policy), set
here because it names the SHA-256 of the page's inline script, and that script is only known once
the page is built (it holds the schema's URL, under the request's root_path). Served only where the
docs are (Settings.docs_enabled; services.api.main decides).
"""

import base64
import hashlib
import re
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from services.api import security_headers

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
STATIC_URL = "/docs/static"
# The package's own files, found beside its module: no import-time network, no copy in this repo.
ASSETS_DIR = Path(fastapi_offline.__file__).resolve().parent / "static"
ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png")

_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", flags=re.S)


def inline_script_hashes(html: str) -> list[str]:
    """The CSP source of each inline <script> of the page ('sha256-...'), hashed as the browser does:
    the exact text between the tags, UTF-8."""
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(html)
    ]


def with_policy(page: HTMLResponse, **allowances: bool) -> HTMLResponse:
    """The page with the CSP that allows its inline scripts by hash and what else its UI needs."""
    html = bytes(page.body).decode()
    page.headers["content-security-policy"] = security_headers.docs_policy(inline_script_hashes(html), **allowances)
    page.headers["cache-control"] = "no-cache"  # the page names the current script hash: revalidate it
    return page


def install(app: FastAPI, openapi_url: str) -> None:
    """Serve the docs pages and their assets on `app` (only called where the docs are enabled)."""
    missing = [name for name in ASSETS if not (ASSETS_DIR / name).is_file()]
    if missing:  # a fastapi-offline that lays its files out otherwise: fail at start, not with blank pages
        raise RuntimeError(f"fastapi-offline has no {', '.join(missing)} in {ASSETS_DIR}")
    app.mount(STATIC_URL, StaticFiles(directory=ASSETS_DIR), name="docs-static")

    def root(request: Request) -> str:
        return str(request.scope.get("root_path", "")).rstrip("/")

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        prefix = root(request)
        page = get_swagger_ui_html(
            openapi_url=prefix + openapi_url,
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=prefix + OAUTH2_REDIRECT_URL,
            swagger_js_url=f"{prefix}{STATIC_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{prefix}{STATIC_URL}/swagger-ui.css",
            swagger_favicon_url=f"{prefix}{STATIC_URL}/favicon.png",
            init_oauth=app.swagger_ui_init_oauth,
            swagger_ui_parameters=app.swagger_ui_parameters,
        )
        return with_policy(page)

    # What FastAPI serves beside its /docs: Swagger UI's landing page for OAuth2 redirect flows. The
    # API's login is the password flow, which never lands here; kept so the docs are as FastAPI's.
    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    async def swagger_ui_oauth2_redirect() -> HTMLResponse:
        return with_policy(get_swagger_ui_oauth2_redirect_html())

    @app.get(REDOC_URL, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        prefix = root(request)
        page = get_redoc_html(
            openapi_url=prefix + openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{prefix}{STATIC_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{prefix}{STATIC_URL}/favicon.png",
            with_google_fonts=False,  # fonts from Google are a CDN too; ReDoc falls back to system fonts
        )
        return with_policy(page, inline_styles=True, blob_workers=True)
