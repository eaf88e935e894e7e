"""API test harness: the real app, in-process over httpx, on the test's own transaction.

Each request gets the test's session (rolled back after the test) with its identity map
emptied first, so a response that needs an unloaded relationship fails (lazy="raise")
instead of being served from objects the test happened to load.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.deps import get_session
from services.api.main import create_app
from shared.auth.tokens import create_access_token
from shared.errors import constraint_errors
from shared.jobs.after_commit import attach_job_pool, discard_pending, send_pending
from shared.jobs.queues import create_job_pool
from shared.models import Role, User
from shared.settings import get_settings
from tests.conftest import clear_job_keys, redis_url_for_tests
from tests.shared.factories import make_user


@pytest.fixture
async def app(engine: AsyncEngine, session: AsyncSession) -> AsyncIterator[FastAPI]:
    app = create_app(get_settings())
    app.state.engine = engine
    job_pool = create_job_pool(redis_url_for_tests())
    app.state.job_pool = app.state.redis = job_pool

    async def session_in_test_transaction() -> AsyncIterator[AsyncSession]:
        # Keep what the test set up (a savepoint release), so a failing request rolls back
        # only its own work, as a real request's transaction would.
        await session.commit()
        session.expunge_all()
        attach_job_pool(session, job_pool)
        try:
            yield session
            with constraint_errors():
                await session.commit()  # releases the test's savepoint; the outer transaction stays
        except BaseException:
            discard_pending(session)
            await session.rollback()
            raise
        await send_pending(session)

    app.dependency_overrides[get_session] = session_in_test_transaction
    yield app
    await clear_job_keys(job_pool)
    await job_pool.aclose()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client:
        yield client


@dataclass
class Caller:
    user: User
    headers: dict[str, str]

    @property
    def id(self) -> int:
        assert self.user.id is not None
        return self.user.id


@pytest.fixture
def login(session: AsyncSession):  # type: ignore[no-untyped-def]
    """`await login(Role.admin)` -> a new user of that role and its Authorization header."""

    async def make(role: Role = Role.author, **fields: object) -> Caller:
        user = await make_user(session, role=role, **fields)
        token, _ = create_access_token(user.id, get_settings())  # type: ignore[arg-type]
        return Caller(user=user, headers={"Authorization": f"Bearer {token}"})

    return make
