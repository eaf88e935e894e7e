"""A one-statement read is one round trip to PostgreSQL: no BEGIN and no COMMIT around it
(shared.db.create_read_session_factory), on real commits. What is sent is seen twice: each
statement SQLAlchemy executes, and each simple query asyncpg sends (its query logger: BEGIN,
COMMIT and ROLLBACK go that way; prepared statements do not). Writes keep their transaction;
behind a transaction-mode pooler, reads keep theirs too (their bounds ride on BEGIN)."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import event, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from services.api.main import create_app
from shared.db import (
    create_engine,
    create_read_session_factory,
    create_session_factory,
    reads_outside_transactions,
    unit_of_work,
)
from shared.models.blog import Post, PostStatus
from shared.settings import get_settings
from tests.shared.factories import make_user

SENT: list[str] = []  # asyncpg's simple queries: transaction control
EXECUTED: list[str] = []  # SQLAlchemy's statements


@pytest.fixture
async def logged_engine(database_url: URL) -> AsyncIterator[AsyncEngine]:
    """An engine of the app's own kind whose every connection logs the queries asyncpg sends."""
    engine = create_engine(get_settings(), url=database_url.render_as_string(hide_password=False))

    @event.listens_for(engine.sync_engine, "connect")
    def log_queries(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.driver_connection.add_query_logger(lambda record: SENT.append(record.query))

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def log_statements(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        EXECUTED.append(statement)

    yield engine
    await engine.dispose()


async def test_an_anonymous_post_and_page_are_one_select_each_and_a_write_keeps_its_transaction(
    logged_engine: AsyncEngine,
) -> None:
    settings = get_settings()
    app = create_app(settings)
    factory = create_session_factory(logged_engine)
    app.state.engine, app.state.session_factory, app.state.job_pool = logged_engine, factory, None
    app.state.read_session_factory = create_read_session_factory(logged_engine, settings)
    async with unit_of_work(factory) as session:
        author = await make_user(session)
        post = Post(title="one round trip", content="x", status=PostStatus.published, author_id=author.id)  # type: ignore[arg-type]
        session.add(post)
    try:
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client:
            for url in (f"/api/v1/posts/{post.id}", "/api/v1/posts?limit=20"):
                SENT.clear()
                EXECUTED.clear()
                assert (await client.get(url)).status_code == 200
                assert [query.split()[0] for query in EXECUTED] == ["SELECT"], (url, EXECUTED)
                assert SENT == [], (url, SENT)  # no BEGIN, no COMMIT
                assert logged_engine.pool.checkedout() == 0  # type: ignore[attr-defined]  # closed: back in the pool
            # A read that fails (a missing post) closes its session too, and still sends no ROLLBACK.
            SENT.clear()
            assert (await client.get("/api/v1/posts/999999999")).status_code == 404
            assert SENT == [] and logged_engine.pool.checkedout() == 0  # type: ignore[attr-defined]  # QueuePool
        SENT.clear()
        async with unit_of_work(factory) as session:  # a write's unit of work: BEGIN ... COMMIT
            await session.exec(text("SELECT 1"))  # type: ignore[call-overload]
        assert [query.split()[0].rstrip(";") for query in SENT] == ["BEGIN", "COMMIT"], SENT
    finally:
        async with unit_of_work(factory) as session:
            await session.exec(text("DELETE FROM post WHERE id = :p"), params={"p": post.id})  # type: ignore[call-overload]
            await session.exec(text("DELETE FROM user_account WHERE id = :u"), params={"u": author.id})  # type: ignore[call-overload]


def test_behind_a_transaction_pooler_reads_keep_their_transaction() -> None:
    settings = get_settings().model_copy(update={"db_pooler": "transaction"})
    engine = create_engine(settings)
    try:
        pooled = create_read_session_factory(engine, settings)
        assert pooled.kw["bind"] is engine and not reads_outside_transactions(pooled)  # committed as a unit of work
        direct = create_read_session_factory(engine, get_settings())
        assert direct.kw["bind"].get_execution_options()["isolation_level"] == "AUTOCOMMIT"
        assert reads_outside_transactions(direct)  # closed, never committed (services.api.deps.get_session)
    finally:
        engine.sync_engine.dispose()
