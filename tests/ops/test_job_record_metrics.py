"""The job-record gauges of /metrics: guildhall_job_records{state} (accepted jobs not yet finished,
queued or in progress) and guildhall_job_records_oldest_age_seconds, read at scrape time in one
statement served by the partial index of unfinished records (ix_job_unfinished_created_at), so a
scrape costs the same whatever the number of finished records."""

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from arq import ArqRedis
from httpx import ASGITransport, AsyncClient
from pydantic import SecretStr
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.main import create_app
from shared.db import flush
from shared.heroes.jobs import BULK_DELETE_HEROES
from shared.jobs import records
from shared.jobs.after_commit import discard_pending
from shared.settings import get_settings

TOKEN = "job-record-metrics-token-0123456789"

Scrape = Callable[[], Awaitable[str]]


@pytest.fixture
async def scrape(job_pool: ArqRedis, connection: AsyncConnection) -> AsyncIterator[Scrape]:
    """GET /metrics of the real app, its sessions bound to the test's connection (they see its rows)."""
    app = create_app(get_settings().model_copy(update={"metrics_token": SecretStr(TOKEN)}))
    app.state.job_pool = app.state.redis = job_pool
    app.state.session_factory = async_sessionmaker(
        bind=connection, class_=AsyncSession, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client:

        async def get() -> str:
            response = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
            assert response.status_code == 200, response.text
            return response.text

        yield get


def gauge(scraped: str, sample: str) -> float:
    found = re.search(rf"^{re.escape(sample)} (\S+)$", scraped, re.MULTILINE)
    assert found, f"{sample} not in the scrape"
    return float(found.group(1))


def queued(scraped: str) -> float:
    return gauge(scraped, 'guildhall_job_records{state="queued"}')


def in_progress(scraped: str) -> float:
    return gauge(scraped, 'guildhall_job_records{state="in_progress"}')


def oldest(scraped: str) -> float:
    return gauge(scraped, "guildhall_job_records_oldest_age_seconds")


async def accept(session: AsyncSession, status: str = "queued", age_seconds: int = 0) -> str:
    """A bulk job's record (its trigger discarded: only the row matters here), in `status`, that old."""
    job_id = await records.accept(session, BULK_DELETE_HEROES, {"ids": [1]}, None)
    discard_pending(session)
    await flush(session)
    await (await session.connection()).execute(
        text("UPDATE job SET status = :status, created_at = now() - make_interval(secs => :age) WHERE id = :id"),
        {"status": status, "age": age_seconds, "id": job_id},
    )
    return job_id


async def test_the_scrape_counts_unfinished_records_by_state_and_the_oldest_ones_age(
    scrape: Scrape, session: AsyncSession
) -> None:
    before = await scrape()
    await accept(session, "queued", 2 * 3600)
    await accept(session, "in_progress")
    await accept(session, "complete", 5 * 3600)  # finished: neither counted nor the oldest
    await accept(session, "failed", 6 * 3600)

    after = await scrape()

    assert queued(after) == queued(before) + 1
    assert in_progress(after) == in_progress(before) + 1
    assert oldest(after) >= 2 * 3600
    if oldest(before) < 2 * 3600:  # no older unfinished record left by anything else
        assert oldest(after) < 3 * 3600


async def test_with_no_unfinished_record_the_oldest_age_is_zero(scrape: Scrape, session: AsyncSession) -> None:
    await (await session.connection()).execute(text("DELETE FROM job WHERE status IN ('queued', 'in_progress')"))
    await accept(session, "complete", 3600)

    scraped = await scrape()

    assert (queued(scraped), in_progress(scraped), oldest(scraped)) == (0, 0, 0)


async def test_a_scrape_reads_the_job_table_once_on_the_unfinished_index_whatever_its_size(
    scrape: Scrape, session: AsyncSession, connection: AsyncConnection, engine: AsyncEngine
) -> None:
    sent: list[tuple[str, Any]] = []

    def on_execute(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO")):
            sent.append((statement, parameters))

    counts = []
    event.listen(engine.sync_engine, "before_cursor_execute", on_execute)
    try:
        for size in (3, 30):
            for n in range(size):
                await accept(session, "complete" if n % 2 else "queued", 60 * n)
            sent.clear()
            await scrape()
            counts.append([statement for statement, _ in sent if " job" in statement])
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", on_execute)

    assert len(counts[0]) == len(counts[1]) == 1, counts
    statement, parameters = next((s, p) for s, p in sent if " job" in s)
    # Seq scans off: only a predicate the partial index implies can use it, so its name in the plan
    # proves the statement is one the index serves (a small test table would otherwise be scanned).
    await connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    plan = await connection.exec_driver_sql(f"EXPLAIN {statement}", parameters)
    lines = "\n".join(row[0] for row in plan.all())
    await connection.exec_driver_sql("SET LOCAL enable_seqscan = on")
    assert "ix_job_unfinished_created_at" in lines, lines
