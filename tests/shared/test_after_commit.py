"""Jobs asked for inside a unit of work are enqueued after COMMIT, dropped on rollback, and an
enqueue that fails after the commit is logged, never raised (the outbox row stays for the sweeper)."""

import logging

import pytest
from arq import ArqRedis
from sqlalchemy.ext.asyncio import AsyncConnection, async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import unit_of_work
from shared.jobs import outbox
from shared.jobs.queues import Queue, create_job_pool
from shared.models.jobs import OutboxMessage, OutboxTopic


@pytest.fixture
def factory(connection: AsyncConnection) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(
        bind=connection, class_=AsyncSession, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )


async def queued(pool: ArqRedis) -> list[bytes]:
    return await pool.zrange(Queue.short, 0, -1)


async def test_the_job_is_enqueued_only_once_the_work_commits(
    factory: async_sessionmaker[AsyncSession], job_pool: ArqRedis
) -> None:
    async with unit_of_work(factory, job_pool) as session:
        message = await outbox.record(session, OutboxTopic.comment_moderation, {"comment_id": 1})
        assert await queued(job_pool) == []  # not before the commit
    assert await queued(job_pool) == [outbox.job_id_for(message.id).encode()]  # type: ignore[arg-type]


async def test_a_rolled_back_unit_enqueues_nothing_and_keeps_no_row(
    factory: async_sessionmaker[AsyncSession], job_pool: ArqRedis, session: AsyncSession
) -> None:
    with pytest.raises(RuntimeError):
        async with unit_of_work(factory, job_pool) as work:
            message_id = (await outbox.record(work, OutboxTopic.comment_moderation, {"comment_id": 2})).id
            raise RuntimeError("the request failed")
    assert await queued(job_pool) == []
    stored = await session.exec(select(OutboxMessage).where(col(OutboxMessage.id) == message_id))
    assert stored.first() is None


async def test_an_enqueue_failure_after_commit_is_logged_and_the_row_stays(
    factory: async_sessionmaker[AsyncSession], session: AsyncSession, caplog: pytest.LogCaptureFixture
) -> None:
    unreachable = create_job_pool("redis://127.0.0.1:1/0")
    try:
        with caplog.at_level(logging.WARNING, logger="shared.jobs.after_commit"):
            async with unit_of_work(factory, unreachable) as work:
                message = await outbox.record(work, OutboxTopic.comment_moderation, {"comment_id": 3})
    finally:
        await unreachable.aclose()
    assert "failed after commit" in caplog.text
    stored = (await session.exec(select(OutboxMessage).where(col(OutboxMessage.id) == message.id))).one()
    assert stored.processed_at is None  # waiting for the sweeper
