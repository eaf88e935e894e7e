"""The dashboard's queue controls and Crons panel in a real headless Chromium (Debian's package,
driven by Playwright) against a real uvicorn server: an admin pauses and resumes a queue with its
buttons; an operator sees the same state with the buttons disabled; the Crons panel lists every
periodic job. Never skipped (without /usr/bin/chromium it fails, as the dashboard's own test)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from arq import ArqRedis
from playwright.async_api import Page, async_playwright, expect
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import delete
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.auth.tokens import create_access_token
from shared.jobs import registry
from shared.jobs.queues import Queue
from shared.models.users import Role, User
from shared.ops import keys
from shared.settings import get_settings
from tests.conftest import ROOT, redis_url_for_tests
from tests.shared.factories import unique
from tests.support.serving import serve_app

CHROMIUM = "/usr/bin/chromium"
SCREENSHOT = ROOT / "artifacts" / "ops-dashboard-paused.png"  # git-ignored
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@asynccontextmanager
async def committed(engine: AsyncEngine, role: Role) -> AsyncIterator[str]:
    """A bearer token of a committed user of `role` (the server has its own connections); removed after."""
    name = unique(f"ctl{role}")
    async with AsyncSession(engine, expire_on_commit=False) as session:
        user = User(username=name, email=f"{name}@example.com", hashed_password="unused", role=role)
        session.add(user)
        await session.commit()
    try:
        token, _ = create_access_token(user.id, get_settings())  # type: ignore[arg-type]
        yield token
    finally:
        async with AsyncSession(engine) as session:
            await session.exec(delete(User).where(User.id == user.id))  # type: ignore[arg-type]
            await session.commit()


async def signed_in(page: Page, url: str, token: str) -> None:
    await page.goto(f"{url}/ops")
    await page.click("#login summary")
    await page.fill("#token-form input[name=token]", token)
    await page.click("#token-form button")
    await expect(page.locator("#board")).to_be_visible()


async def test_an_admin_pauses_and_resumes_with_the_buttons_and_an_operator_cannot(
    database_url: URL, engine: AsyncEngine, job_pool: ArqRedis
) -> None:
    short = f'#queues [data-queue="{Queue.short}"]'
    async with (
        serve_app(database_url, redis_url_for_tests()) as port,
        committed(engine, Role.admin) as admin,
        committed(engine, Role.operator) as operator,
        async_playwright() as playwright,
    ):
        url = f"http://127.0.0.1:{port}"
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 1100})
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("dialog", lambda dialog: dialog.accept())  # the pause's confirm()
            await signed_in(page, url, admin)
            crons = page.locator("#crons tbody tr")
            await expect(crons).to_have_count(len(registry.crons()))
            await expect(page.locator("#crons")).to_contain_text("sweep_outbox")

            await page.click(f'{short}[data-queue-action="pause"]')
            await expect(page.locator(f'{short}[data-queue-action="resume"]')).to_be_visible()
            assert await job_pool.exists(keys.paused(Queue.short))
            await expect(page.locator("#queues")).to_contain_text("paused")
            await expect(page.locator("#crons")).to_contain_text("skipped: queue paused")
            SCREENSHOT.parent.mkdir(exist_ok=True)
            await page.screenshot(path=str(SCREENSHOT), full_page=True)

            viewer = await browser.new_page()
            await signed_in(viewer, url, operator)
            await expect(viewer.locator(f'{short}[data-queue-action="resume"]')).to_be_disabled()
            await expect(
                viewer.locator(f'#queues [data-queue="{Queue.bulk}"][data-queue-action="pause"]')
            ).to_be_disabled()

            await page.click(f'{short}[data-queue-action="resume"]')
            await expect(page.locator(f'{short}[data-queue-action="pause"]')).to_be_visible()
            assert not await job_pool.exists(keys.paused(Queue.short))
            assert errors == []
        finally:
            await browser.close()
