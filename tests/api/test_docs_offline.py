"""The interactive docs work with no internet (services.api.docs): /docs and /redoc reference only
this origin's files, which the app serves from the fastapi-offline package, under a CSP that allows
exactly what each page needs; and they stay off outside development.

The browser tests drive Debian's Chromium (as tests/ops/test_dashboard_browser.py does, never
skipped) against a real uvicorn server with every request to another host aborted, and check that
Swagger UI rendered the operations and ran one ("Try it out"), that ReDoc rendered and searched
(its search runs in a blob: worker), and that the browser reported no CSP violation, but one
expected on ReDoc: its footer's Redocly logo, an <img> from cdn.redoc.ly that the policy blocks
(the bundle hides it when it fails to load), so the page asks nothing of another host.
"""

import base64
import hashlib
import re
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
from httpx import ASGITransport, AsyncClient
from playwright.async_api import ConsoleMessage, Page, Request, Route, async_playwright, expect
from sqlalchemy.engine import URL

from services.api import docs
from services.api.main import create_app
from shared.settings import get_settings
from tests.conftest import ROOT, redis_url_for_tests
from tests.support.serving import serve_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# Registered before any of the page's own scripts run (Playwright injects it, outside the page's CSP).
RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI || "inline"}`);
});
"""
REDOCLY_LOGO = "img-src blocked https://cdn.redoc.ly/redoc/logo-mini.svg"
ARTIFACTS = ROOT / "artifacts"
PAGES = (docs.DOCS_URL, docs.REDOC_URL, docs.OAUTH2_REDIRECT_URL)
ASSET_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


@pytest.fixture
async def docs_client() -> AsyncIterator[AsyncClient]:
    """The app with its docs served (API_DOCS=true), in-process; no lifespan: the docs need no database."""
    app = create_app(get_settings().model_copy(update={"api_docs": True}))
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client:
        yield client


def policy_of(header: str) -> dict[str, list[str]]:
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def script_hash(body: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"


async def test_the_pages_reference_only_this_origins_files_and_each_is_served(docs_client: AsyncClient) -> None:
    seen: set[str] = set()
    for page_path in (docs.DOCS_URL, docs.REDOC_URL):
        page = await docs_client.get(page_path)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html"), page_path
        assert not re.search(r"(?i)\b(https?:)?//[a-z0-9.-]+", page.text), page.text  # no other host at all
        urls = re.findall(r'(?:src|href)="([^"]*)"', page.text)
        urls += re.findall(r"(?:spec-url|url)\s*[=:]\s*['\"]([^'\"]+)['\"]", page.text)  # the schema's URL
        assert urls, page_path
        for url in urls:
            assert url.startswith("/") and not url.startswith("//") and not urlsplit(url).netloc, (page_path, url)
        assets = [url for url in urls if url.startswith(f"{docs.STATIC_URL}/")]
        assert len(assets) == (3 if page_path == docs.DOCS_URL else 2), (page_path, assets)  # js (+css), icon
        seen.update(assets)
        assert "/openapi.json" in urls, (page_path, urls)
    assert seen == {f"{docs.STATIC_URL}/{name}" for name in docs.ASSETS}
    for url in sorted(seen):
        response = await docs_client.get(url)
        suffix = url[url.rindex(".") :]
        assert response.status_code == 200, url
        assert response.headers["content-type"].split(";")[0] == ASSET_TYPES[suffix], (url, response.headers)
        assert len(response.content) > (100_000 if suffix != ".png" else 1_000), (url, len(response.content))
        assert response.headers["x-content-type-options"] == "nosniff" and response.headers["x-frame-options"] == "DENY"
        assert "etag" in response.headers  # revalidated, not downloaded again (1.5 MB for Swagger UI)
    assert (await docs_client.get(f"{docs.STATIC_URL}/missing.js")).status_code == 404


async def test_each_page_has_a_csp_allowing_its_inline_scripts_by_hash_and_no_more(docs_client: AsyncClient) -> None:
    for page_path in PAGES:
        page = await docs_client.get(page_path)
        assert page.status_code == 200, page_path
        header = page.headers["content-security-policy"]
        assert page.headers.get_list("content-security-policy") == [header], page_path  # one policy, not two
        policy = policy_of(header)
        assert policy["default-src"] == ["'self'"] and policy["frame-ancestors"] == ["'none'"], header
        assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'none'"], header
        assert page.headers["x-frame-options"] == "DENY"
        inline = re.findall(r"<script>(.*?)</script>", page.text, flags=re.S)
        assert policy["script-src"] == ["'self'", *map(script_hash, inline)], header
        assert "'unsafe-eval'" not in header and "*" not in header and "http" not in header, header
        # Inline styles and blob: workers for ReDoc alone (services.api.security_headers says why).
        redoc = page_path == docs.REDOC_URL
        assert ("'unsafe-inline'" in policy["style-src"]) == redoc, header
        assert ("blob:" in policy.get("worker-src", [])) == redoc, header
        assert policy["img-src"] == ["'self'", "data:"], header
    # Swagger UI's page has exactly one inline script (its start-up), the redirect page one, ReDoc none.
    assert len(policy_of((await docs_client.get(docs.DOCS_URL)).headers["content-security-policy"])["script-src"]) == 2


async def test_head_on_the_docs_is_their_get(docs_client: AsyncClient) -> None:
    for path in (*PAGES, f"{docs.STATIC_URL}/swagger-ui-bundle.js"):
        get, head = await docs_client.get(path), await docs_client.head(path)
        assert head.status_code == get.status_code == 200 and head.content == b"", path
        assert head.headers.multi_items() == get.headers.multi_items(), path


async def test_nothing_of_the_docs_is_served_outside_development() -> None:
    settings = get_settings()
    assert settings.environment == "test" and not settings.docs_enabled
    async with AsyncClient(transport=ASGITransport(app=create_app(settings)), base_url="http://test") as client:
        for path in (*PAGES, "/openapi.json", *(f"{docs.STATIC_URL}/{name}" for name in docs.ASSETS)):
            assert (await client.get(path)).status_code == 404, path
            assert (await client.head(path)).status_code == 404, path


# --- in a browser, offline -------------------------------------------------------------------------


@pytest.fixture
async def docs_server_url(database_url: URL) -> AsyncIterator[str]:
    """The real app with its docs on (API_DOCS=true), served by uvicorn on a free port."""
    async with serve_app(database_url, redis_url_for_tests(), api_docs=True) as port:
        yield f"http://127.0.0.1:{port}"


class OfflinePage:
    """A page on which every request to another host is aborted and recorded, as are page errors and
    the CSP violations the browser reports (as events and on the console)."""

    def __init__(self, page: Page, origin: str) -> None:
        self.page, self.origin = page, origin
        self.offsite: list[str] = []
        self.errors: list[str] = []
        self.csp_console: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("console", self._on_console)

    def _on_console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            self.csp_console.append(message.text)

    async def _route(self, route: Route, request: Request) -> None:
        if request.url.startswith(self.origin + "/"):
            await route.continue_()
        else:
            self.offsite.append(request.url)
            await route.abort()

    async def open(self, path: str) -> str:
        await self.page.add_init_script(RECORD_CSP_VIOLATIONS)
        await self.page.route("**/*", self._route)
        response = await self.page.goto(self.origin + path)
        assert response is not None and response.status == 200, path
        return await response.header_value("content-security-policy") or ""

    async def csp_violations(self) -> list[str]:
        violations: list[str] = await self.page.evaluate("window.__cspViolations")
        return violations


async def test_swagger_ui_renders_and_runs_an_operation_offline(docs_server_url: str) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = OfflinePage(await browser.new_page(viewport={"width": 1400, "height": 1100}), docs_server_url)
            policy = await page.open(docs.DOCS_URL)
            assert "sha256-" in policy and "unsafe-inline" not in policy, policy
            operations = page.page.locator(".opblock")
            await expect(operations.first).to_be_visible()
            assert await operations.count() >= 50  # every API operation, from /openapi.json
            await expect(page.page.locator(".info .title")).to_contain_text("Guildhall")

            healthz = page.page.locator(".opblock", has=page.page.locator('[data-path="/healthz"]'))
            await healthz.locator(".opblock-summary").click()
            await healthz.locator("button.try-out__btn").click()
            await healthz.locator("button.execute").click()
            live = healthz.locator(".live-responses-table tr.response .response-col_status")
            await expect(live.first).to_have_text("200")
            await expect(healthz.locator(".live-responses-table .microlight").first).to_contain_text('"status": "ok"')
            ARTIFACTS.mkdir(exist_ok=True)
            await page.page.screenshot(path=str(ARTIFACTS / "docs-swagger-ui.png"))
            violations = await page.csp_violations()
        finally:
            await browser.close()
    assert page.offsite == [] and page.errors == [], (page.offsite, page.errors)
    assert violations == [] and page.csp_console == [], (violations, page.csp_console)


async def test_redoc_renders_and_searches_offline(docs_server_url: str) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = OfflinePage(await browser.new_page(viewport={"width": 1400, "height": 1100}), docs_server_url)
            policy = await page.open(docs.REDOC_URL)
            assert "worker-src 'self' blob:" in policy, policy
            operations = page.page.locator('[data-section-id^="operation/"]')
            await expect(operations.first).to_be_attached()
            assert await operations.count() >= 50
            await expect(page.page.locator("h1")).to_contain_text("Guildhall")
            # The search index is built in a worker made from a blob: URL.
            await page.page.fill('input[role="search"], input[placeholder="Search..."]', "healthz")
            await expect(page.page.locator('[data-role="search:results"] li').first).to_contain_text("Liveness")
            ARTIFACTS.mkdir(exist_ok=True)
            await page.page.screenshot(path=str(ARTIFACTS / "docs-redoc.png"))
            violations = await page.csp_violations()
        finally:
            await browser.close()
    assert page.offsite == [] and page.errors == [], (page.offsite, page.errors)
    assert violations in ([], [REDOCLY_LOGO]), violations
    assert all("cdn.redoc.ly/redoc/logo-mini.svg" in message for message in page.csp_console), page.csp_console
