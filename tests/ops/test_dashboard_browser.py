"""The /ops dashboard in a real headless Chromium (Debian's package, driven by Playwright), against a
real uvicorn server on a free port, on the test database and the test Redis index.

Never skipped: without /usr/bin/chromium this test fails (`.ci/run` installs the package when missing).
The screenshot lands in artifacts/ops-dashboard.png (git-ignored).

The page runs under its Content-Security-Policy (services.api.security_headers): the test checks the
header is sent and that the browser reported no violation of it (no `securitypolicyviolation`
event, no CSP message on the console), so anything inline or from elsewhere would fail it.
"""

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx
import pytest
from arq import ArqRedis
from playwright.async_api import ConsoleMessage, Page, async_playwright, expect
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import delete
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.auth.tokens import create_access_token
from shared.models.users import Role, User
from shared.ops import keys
from shared.ops.inspect import read_job_detail
from shared.ops.schemas import JobStatus
from shared.settings import get_settings
from tests.conftest import ROOT, redis_url_for_tests
from tests.ops.conftest import TEST_WORKER, OpsWorker
from tests.shared.factories import unique
from tests.support.queues import enqueue
from tests.support.serving import serve_app

CHROMIUM = "/usr/bin/chromium"
# Registered before any of the page's own scripts run (Playwright injects it, outside the page's CSP).
RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI || "inline"}`);
});
"""
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOT = ROOT / "artifacts" / "ops-dashboard.png"
SCREENSHOT_NOT_ADMIN = ROOT / "artifacts" / "ops-dashboard-not-admin.png"
SCREENSHOT_OPERATOR = ROOT / "artifacts" / "ops-dashboard-operator.png"


@asynccontextmanager
async def committed_user(engine: AsyncEngine, role: Role) -> AsyncIterator[User]:
    """A user the real server can see: committed (the server has its own connections), removed after."""
    name = unique(f"ops{role}")
    async with AsyncSession(engine, expire_on_commit=False) as session:
        user = User(username=name, email=f"{name}@example.com", hashed_password="unused", role=role)
        session.add(user)
        await session.commit()
    yield user
    async with AsyncSession(engine) as session:
        await session.exec(delete(User).where(User.id == user.id))  # type: ignore[arg-type]
        await session.commit()


@pytest.fixture
async def committed_admin(engine: AsyncEngine) -> AsyncIterator[User]:
    async with committed_user(engine, Role.admin) as admin:
        yield admin


@pytest.fixture
async def committed_author(engine: AsyncEngine) -> AsyncIterator[User]:
    async with committed_user(engine, Role.author) as author:
        yield author


@pytest.fixture
async def committed_operator(engine: AsyncEngine) -> AsyncIterator[User]:
    async with committed_user(engine, Role.operator) as operator:
        yield operator


@pytest.fixture
async def server_url(database_url: URL) -> AsyncIterator[str]:
    """The real app (its own lifespan: engine, Redis pool) served by uvicorn on a free port."""
    async with serve_app(database_url, redis_url_for_tests()) as port:
        yield f"http://127.0.0.1:{port}"


@dataclass
class WatchedPage:
    """A dashboard tab, and what it did that it must not: page errors, requests to other origins,
    CSP violations (events, and console messages) — asserted empty by check()."""

    page: Page
    server_url: str
    page_errors: list[str] = field(default_factory=list)
    offsite: list[str] = field(default_factory=list)
    csp_messages: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)

    def check(self) -> None:
        assert self.page_errors == [] and self.offsite == []
        assert self.csp_violations == [] and self.csp_messages == [], (self.csp_violations, self.csp_messages)


@asynccontextmanager
async def dashboard_tab(server_url: str) -> AsyncIterator[WatchedPage]:
    """A headless Chromium tab, watched, on /ops under its CSP, showing the sign-in form."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 1100})
            await page.add_init_script(RECORD_CSP_VIOLATIONS)
            watched = WatchedPage(page, server_url)
            page.on("pageerror", lambda error: watched.page_errors.append(str(error)))

            def on_console(message: ConsoleMessage) -> None:
                if "Content Security Policy" in message.text:
                    watched.csp_messages.append(message.text)

            page.on("console", on_console)
            page.on(
                "request",
                lambda request: None if request.url.startswith(server_url) else watched.offsite.append(request.url),
            )

            response = await page.goto(f"{server_url}/ops")
            assert response is not None
            policy = await response.header_value("content-security-policy") or ""
            assert "default-src 'self'" in policy and "unsafe-inline" not in policy, policy
            assert await response.header_value("server") is None
            await expect(page.locator("#login")).to_be_visible()
            yield watched
            watched.csp_violations = await page.evaluate("window.__cspViolations")
        finally:
            await browser.close()


async def sign_in_with_token(page: Page, token: str) -> None:
    await page.click("#login summary")
    await page.fill("#token-form input[name=token]", token)
    await page.click("#token-form button")


async def test_the_dashboard_shows_a_failed_jobs_traceback_and_its_retry_button_requeues_it(
    server_url: str, committed_admin: User, job_pool: ArqRedis, ops_worker: OpsWorker
) -> None:
    await enqueue(job_pool, "ops_ok", 20)
    failed = await enqueue(job_pool, "ops_fail", "shown in the browser")
    await ops_worker.run(jobs=2)
    await ops_worker.sweep()  # a cron run: a sweep, not work done
    await enqueue(job_pool, "ops_ok", 21, _defer_by=600)
    token, _ = create_access_token(committed_admin.id, get_settings())  # type: ignore[arg-type]

    async with dashboard_tab(server_url) as tab:
        page = tab.page
        await sign_in_with_token(page, token)

        failed_link = page.locator(f'#failed button[data-job="{failed}"]')
        await expect(failed_link).to_be_visible()
        await expect(page.locator("#read-only")).to_be_hidden()
        await expect(page.locator(f'#failed button[data-retry="{failed}"]')).to_be_enabled()
        await expect(page.locator('[data-card="Failed (1 h)"] .value')).to_have_text("1")
        await expect(page.locator('[data-card="Deferred"] .value')).to_have_text("1")
        # The cron run is a sweep, apart from the work: not in Done, its own card and chart lane.
        await expect(page.locator('[data-card="Done (1 h)"] .value')).to_have_text("1")
        await expect(page.locator('[data-card="Sweeps (1 h)"] .value')).to_have_text("1")
        await expect(page.locator('#chart svg rect[data-series="complete"]')).to_have_count(1)
        await expect(page.locator('#chart svg rect[data-series="failed"]')).to_have_count(1)
        await expect(page.locator('#chart svg rect[data-series="sweeps"]')).to_have_count(1)
        await expect(page.locator("#functions")).to_contain_text("ops_fail")
        await expect(page.locator("#workers")).to_contain_text(TEST_WORKER)

        await failed_link.click()
        traceback = page.locator("#job-traceback")
        await expect(traceback).to_be_visible()
        await expect(traceback).to_contain_text("Traceback (most recent call last)")
        await expect(traceback).to_contain_text("OpsJobFailed: refused: shown in the browser")
        SCREENSHOT.parent.mkdir(exist_ok=True)
        await page.screenshot(path=str(SCREENSHOT), full_page=True)

        await page.click("#job-retry")
        message = page.locator("#job-message")
        await expect(message).to_contain_text("retried as ")
        new_job_id = (await message.text_content() or "").removeprefix("retried as ").strip()
        await expect(page.locator("#failed")).to_contain_text(f"retried as {new_job_id}")

        # Sign out revokes the token on the server, not only in this tab.
        async with httpx.AsyncClient(base_url=server_url) as api:
            me = {"Authorization": f"Bearer {token}"}
            assert (await api.get("/api/v1/users/me", headers=me)).status_code == 200
            await page.keyboard.press("Escape")  # the job dialog is open
            await page.click("#logout")
            await expect(page.locator("#login")).to_be_visible()
            revoked = await api.get("/api/v1/users/me", headers=me)
            assert revoked.status_code == 401, revoked.text

    tab.check()
    definition = json.loads(await job_pool.get(keys.job(new_job_id)) or b"{}")
    assert (definition["f"], definition["a"]) == ("ops_fail", ["shown in the browser"])
    assert await job_pool.zscore("guildhall:short", new_job_id) is not None
    assert SCREENSHOT.stat().st_size > 10_000


async def test_a_signed_in_non_admin_is_told_the_board_is_for_admins_and_who_they_are_and_can_sign_out(
    server_url: str, committed_author: User
) -> None:
    token, _ = create_access_token(committed_author.id, get_settings())  # type: ignore[arg-type]
    me = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=server_url) as api:
        refused = await api.get("/api/v1/ops/queues", headers=me)
        assert refused.status_code == 403, refused.text  # what the page is answered

        async with dashboard_tab(server_url) as tab:
            page = tab.page
            await sign_in_with_token(page, token)
            notice = page.locator("#not-admin")
            await expect(notice).to_be_visible()
            await expect(notice.locator("h2")).to_have_text("The ops board is for admins and operators")
            await expect(page.locator("#not-admin-user")).to_have_text(f"{committed_author.username} (author)")
            await expect(page.locator("#status")).to_have_text("signed in, not an admin or an operator")
            await expect(page.locator("#board")).to_be_hidden()
            SCREENSHOT_NOT_ADMIN.parent.mkdir(exist_ok=True)
            await page.screenshot(path=str(SCREENSHOT_NOT_ADMIN), full_page=True)

            await page.click("#not-admin-logout")
            await expect(page.locator("#login")).to_be_visible()
            await expect(notice).to_be_hidden()
            revoked = await api.get("/api/v1/users/me", headers=me)
            assert revoked.status_code == 401, revoked.text  # signed out on the server too

    tab.check()


async def test_an_operator_sees_the_board_read_only_with_its_actions_disabled_and_the_server_refuses_them(
    server_url: str, committed_operator: User, job_pool: ArqRedis, ops_worker: OpsWorker
) -> None:
    failed = await enqueue(job_pool, "ops_fail", "seen read-only")
    await ops_worker.run(jobs=1)
    token, _ = create_access_token(committed_operator.id, get_settings())  # type: ignore[arg-type]

    async with dashboard_tab(server_url) as tab:
        page = tab.page
        await sign_in_with_token(page, token)

        notice = page.locator("#read-only")
        await expect(notice).to_be_visible()
        await expect(notice).to_contain_text("Read-only.")
        await expect(notice).to_contain_text("retry, abort and purge need an admin")
        await expect(page.locator("#read-only-user")).to_have_text(f"{committed_operator.username} (operator)")
        await expect(page.locator("#status")).to_contain_text("live · read-only")
        await expect(page.locator('[data-card="Failed (1 h)"] .value')).to_have_text("1")
        await expect(page.locator(f'#failed button[data-retry="{failed}"]')).to_be_disabled()
        await expect(page.locator("#purge")).to_be_disabled()
        await expect(page.locator("#bulk-panel .needs-admin")).to_have_count(4)
        for button in await page.locator("#bulk-panel .needs-admin, #dead-panel .needs-admin").all():
            await expect(button).to_be_disabled()

        await page.locator(f'#failed button[data-job="{failed}"]').click()
        await expect(page.locator("#job-traceback")).to_contain_text("OpsJobFailed: refused: seen read-only")
        await expect(page.locator("#job-args")).to_have_text("(shown to admins only)")
        await expect(page.locator("#job-retry")).to_be_visible()
        await expect(page.locator("#job-retry")).to_be_disabled()
        SCREENSHOT_OPERATOR.parent.mkdir(exist_ok=True)
        await page.screenshot(path=str(SCREENSHOT_OPERATOR), full_page=True)

    tab.check()
    # The page is not the guard: the same token sent straight to the API is refused, and nothing moved.
    async with httpx.AsyncClient(base_url=server_url) as api:
        refused = await api.post(f"/api/v1/ops/jobs/{failed}/retry", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 403 and refused.json()["detail"] == "this needs the role admin", refused.text
    still_failed = await read_job_detail(job_pool, failed)
    assert still_failed is not None and still_failed.status == JobStatus.failed and still_failed.retried_as is None
    assert await job_pool.zcard("guildhall:short") == 0  # no retry enqueued


async def test_an_admin_retries_ticked_failed_jobs_and_sees_the_dead_letters_panel(
    server_url: str, committed_admin: User, job_pool: ArqRedis, ops_worker: OpsWorker
) -> None:
    failed = [await enqueue(job_pool, "ops_fail", f"ticked {n}") for n in range(2)]
    await ops_worker.run(jobs=2)
    token, _ = create_access_token(committed_admin.id, get_settings())  # type: ignore[arg-type]

    async with dashboard_tab(server_url) as tab:
        page = tab.page
        page.on("dialog", lambda dialog: dialog.accept())  # the preview's confirm()
        await sign_in_with_token(page, token)

        dead = page.locator("#dead-letters")
        for job_id in failed:
            await expect(dead).to_contain_text(job_id)
        for job_id in failed:
            await page.locator(f'#failed input[aria-label="select {job_id}"]').check()
        await expect(page.locator("#bulk-selected")).to_have_text("2 selected")
        await page.click("#bulk-panel >> text=Retry selected")
        await expect(page.locator("#bulk-message")).to_have_text("retry: acted on 2 of 2 matched")
        for job_id in failed:
            await expect(page.locator("#failed")).to_contain_text(f"retried as {job_id}:retry")
        await page.click("#dead-panel >> text=Refresh")
        await expect(dead).to_contain_text("no dead letters")  # retried: no longer given up

    tab.check()
    assert await job_pool.zcard("guildhall:short") == 2
