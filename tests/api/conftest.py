"""API test harness: the real app, in-process over httpx, on the test's own transaction.

Each request gets a session of its own (as in production), bound to the test's connection,
so a response that needs an unloaded relationship fails (lazy="raise") instead of being
served from objects the test happened to load; everything is rolled back after the test.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Request
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.main import create_app
from shared.auth.callers import CallerCache
from shared.auth.tokens import create_access_token
from shared.jobs.queues import create_job_pool
from shared.models.users import Role, User
from shared.settings import get_settings
from tests.conftest import clear_job_keys, redis_url_for_tests
from tests.shared.factories import make_user


@pytest.fixture
async def app(engine: AsyncEngine, connection: AsyncConnection) -> AsyncIterator[FastAPI]:
    """The real app with its real request session (`services.api.deps.get_session`, i.e.
    `shared.db.unit_of_work`), whose factory binds each request's own session to the test's
    connection in savepoint mode: a request commits or rolls back its own work, and the test's
    outer transaction undoes everything at the end."""
    app = create_app(get_settings())
    app.state.engine = engine
    app.state.session_factory = async_sessionmaker(
        bind=connection, class_=AsyncSession, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    job_pool = create_job_pool(redis_url_for_tests())
    app.state.job_pool = app.state.redis = job_pool
    # Every request reads its caller from the database, so a test's statement counts do not depend on
    # which of its requests came first; tests/api/test_caller_cache.py tests the cache itself.
    app.state.caller_cache = CallerCache(ttl_seconds=0)
    yield app
    await clear_job_keys(job_pool)
    await job_pool.aclose()


@pytest.fixture
async def client(app: FastAPI, session: AsyncSession) -> AsyncIterator[AsyncClient]:
    async def forget_loaded_objects(request: Request) -> None:
        # The test's own session reads fresh rows after each request instead of objects it
        # loaded before the request changed them.
        session.expunge_all()

    async with AsyncClient(
        transport=ASGITransport(app=app),
        base_url="http://test",
        event_hooks={"request": [forget_loaded_objects]},
    ) as client:
        yield client


@dataclass
class SignedIn:
    """A user of the test database and the Authorization header it is signed in with (the domain's
    view of who calls is shared.auth.callers.Caller)."""

    user: User
    headers: dict[str, str]

    @property
    def id(self) -> int:
        assert self.user.id is not None
        return self.user.id


@pytest.fixture
def login(session: AsyncSession):  # type: ignore[no-untyped-def]
    """`await login(Role.admin)` -> a new user of that role and its Authorization header."""

    async def make(role: Role = Role.author, **fields: object) -> SignedIn:
        user = await make_user(session, role=role, **fields)
        token, _ = create_access_token(user.id, get_settings())  # type: ignore[arg-type]
        return SignedIn(user=user, headers={"Authorization": f"Bearer {token}"})

    return make
