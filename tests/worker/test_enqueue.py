"""One-round-trip enqueue (shared.jobs.enqueue): the same keys and payload as arq's enqueue_job,
refused while a job of that id is queued or its result is kept, and run by arq's own worker."""

from arq import ArqRedis
from arq.jobs import Job, JobStatus
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.jobs import outbox
from shared.jobs.enqueue import enqueue_unique
from shared.jobs.outbox import PROCESS_OUTBOX_MESSAGE as PROCESS
from shared.jobs.queues import Queue
from shared.models.jobs import OutboxMessage, OutboxTopic
from tests.conftest import RunWorker


async def test_it_writes_what_arq_writes_and_refuses_a_known_job_id(job_pool: ArqRedis) -> None:
    assert await enqueue_unique(job_pool, PROCESS.name, job_id="outbox:1", queue=Queue.short, message_id=1)
    ours = await Job("outbox:1", job_pool, _queue_name=Queue.short, _deserializer=job_pool.job_deserializer).info()
    assert ours is not None and (ours.function, ours.kwargs, ours.job_try) == (
        PROCESS.name,
        {"message_id": 1},
        None,
    )
    assert 0 < await job_pool.pttl("arq:job:outbox:1") <= job_pool.expires_extra_ms
    assert await job_pool.zscore(Queue.short, "outbox:1") == ours.score

    # Queued already: refused, nothing changed (arq's enqueue_job agrees on the same keys).
    before = await job_pool.get("arq:job:outbox:1")
    assert not await enqueue_unique(job_pool, PROCESS.name, job_id="outbox:1", queue=Queue.short)
    assert await job_pool.get("arq:job:outbox:1") == before
    assert await job_pool.enqueue_job(PROCESS.name, _job_id="outbox:1", _queue_name=Queue.short) is None
    assert await job_pool.zcard(Queue.short) == 1


async def test_arqs_worker_runs_it_and_its_kept_result_refuses_another(
    session: AsyncSession, job_pool: ArqRedis, run_worker: RunWorker
) -> None:
    message = await outbox.record(session, OutboxTopic.comment_moderation, {"comment_id": 0})  # a comment gone
    await session.commit()
    job_id = outbox.job_id_for(message.id)  # type: ignore[arg-type]
    assert await enqueue_unique(job_pool, PROCESS.name, job_id=job_id, queue=Queue.short, message_id=message.id)
    await run_worker(Queue.short)
    job = Job(job_id, job_pool, _queue_name=Queue.short, _deserializer=job_pool.job_deserializer)
    assert await job.status() == JobStatus.complete
    processed = await session.exec(select(OutboxMessage.processed_at).where(col(OutboxMessage.id) == message.id))
    assert processed.one() is not None
    assert not await enqueue_unique(job_pool, PROCESS.name, job_id=job_id, queue=Queue.short)
