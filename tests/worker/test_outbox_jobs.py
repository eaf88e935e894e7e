"""Outbox jobs: transfer audits and comment moderation, exactly once, and the sweeper."""

import asyncio
import json
from typing import Any

from arq import ArqRedis
from arq.jobs import JobStatus
from sqlmodel import col, select, text
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import flush, unit_of_work
from shared.heroes.audit import AUDIT_WINDOW_MS
from shared.heroes.jobs import PROCESS_TRANSFER_AUDITS, process_transfer_audits
from shared.heroes.transfers import transfer_hero
from shared.jobs import outbox
from shared.jobs.enqueue import enqueue as enqueue_job
from shared.jobs.outbox import PROCESS_OUTBOX_MESSAGE
from shared.jobs.queues import Queue
from shared.jobs.serialization import deserialize
from shared.jobs.sweepers import sweep_outbox
from shared.models.base import now_utc
from shared.models.blog import Comment, ModerationState, Post
from shared.models.heroes import TransferLog
from shared.models.jobs import OutboxMessage, OutboxTopic
from tests.conftest import RunWorker, StatementLog
from tests.shared.factories import make_hero, make_team, make_user
from tests.support.outbox import enqueue_message, transfer_message


async def test_a_transfer_audit_writes_exactly_one_log_even_when_run_twice(
    session: AsyncSession, job_pool: ArqRedis, run_worker: RunWorker
) -> None:
    message, payload = await transfer_message(session, key="k-1")
    job = await enqueue_message(job_pool, message.id)  # type: ignore[arg-type]
    assert job is not None
    await run_worker(Queue.short)
    # At-least-once: the same row delivered again (a new job id) must change nothing.
    await enqueue_job(job_pool, PROCESS_OUTBOX_MESSAGE, message_id=message.id)
    await run_worker(Queue.short)

    logs = (await session.exec(select(TransferLog).where(col(TransferLog.hero_id) == payload["hero_id"]))).all()
    assert len(logs) == 1
    assert (logs[0].to_team_id, logs[0].idempotency_key) == (payload["to_team_id"], "k-1")
    await session.refresh(message)
    assert message.processed_at is not None
    result = await job.result_info()
    assert result is not None and result.success and result.result["transfer_log_id"] == logs[0].id


async def test_job_keys_are_json_and_a_failure_keeps_its_traceback_as_data(
    session: AsyncSession, job_pool: ArqRedis, run_worker: RunWorker
) -> None:
    message, _ = await transfer_message(session)
    # A payload the handler cannot read: the job fails, and says why.
    await session.exec(  # type: ignore[call-overload]
        text("UPDATE outbox SET payload = '{}'::jsonb WHERE id = :id"), params={"id": message.id}
    )
    await session.commit()
    job = await enqueue_message(job_pool, message.id)  # type: ignore[arg-type]
    assert job is not None
    raw_job = await job_pool.get(f"arq:job:{job.job_id}")
    assert raw_job is not None and raw_job.startswith(b"{") and f'"{PROCESS_OUTBOX_MESSAGE.name}"'.encode() in raw_job
    await run_worker(Queue.short)
    raw_result = await job_pool.get(f"arq:result:{job.job_id}")
    assert raw_result is not None
    stored = deserialize(raw_result)
    assert stored["s"] is False
    assert stored["r"].type == "KeyError" and "hero_id" in stored["r"].message
    assert "Traceback" in stored["r"].traceback and "write_transfer_log" in stored["r"].traceback
    assert await job.status() == JobStatus.complete


async def make_comment(session: AsyncSession, content: str, **fields: Any) -> Comment:
    author = fields.pop("author", None) or await make_user(session)
    post = Post(title="A post", content="...", author_id=author.id, status="published")
    session.add(post)
    await flush(session)
    comment = Comment(content=content, post_id=post.id, author_id=author.id, **fields)  # type: ignore[arg-type]
    session.add(comment)
    await flush(session)
    return comment


async def moderate(session: AsyncSession, pool: ArqRedis, run_worker: RunWorker, comment: Comment) -> Comment:
    message = await outbox.record(session, OutboxTopic.comment_moderation, {"comment_id": comment.id})
    await session.commit()
    await enqueue_message(pool, message.id)  # type: ignore[arg-type]
    await run_worker(Queue.short)
    await session.refresh(comment)
    return comment


async def test_rules_approve_or_reject_with_a_reason(
    session: AsyncSession, job_pool: ArqRedis, run_worker: RunWorker
) -> None:
    cases = {
        "A thoughtful reply, thanks.": (ModerationState.approved, None),
        "Cheap SPAM here": (ModerationState.rejected, "banned words: spam"),
        "see http://a.example http://b.example https://c.example": (ModerationState.rejected, "too many links"),
        "THIS IS ABSOLUTELY OUTRAGEOUS": (ModerationState.rejected, "shouting"),
        "   ": (ModerationState.rejected, "empty comment"),
    }
    for content, (state, reason) in cases.items():
        comment = await moderate(session, job_pool, run_worker, await make_comment(session, content))
        assert comment.moderation_state == state, content
        assert (comment.moderation_reason is None) if reason is None else (reason in comment.moderation_reason)  # type: ignore[operator]
        assert comment.moderated_at is not None and comment.moderated_by_id is None


async def test_the_same_text_from_the_same_author_soon_after_is_rejected(
    session: AsyncSession, job_pool: ArqRedis, run_worker: RunWorker
) -> None:
    author = await make_user(session)
    first = await moderate(session, job_pool, run_worker, await make_comment(session, "Nice  post!\n", author=author))
    second = await moderate(session, job_pool, run_worker, await make_comment(session, "nice post!\n", author=author))
    other = await moderate(session, job_pool, run_worker, await make_comment(session, "Nice post!"))
    assert first.moderation_state == ModerationState.approved
    assert second.moderation_state == ModerationState.rejected and "duplicate" in second.moderation_reason  # type: ignore[operator]
    assert other.moderation_state == ModerationState.approved


async def test_a_moderators_decision_is_never_overwritten(
    session: AsyncSession, job_pool: ArqRedis, run_worker: RunWorker
) -> None:
    moderator = await make_user(session, role="moderator")
    comment = await make_comment(
        session,
        "SPAM that a moderator chose to keep",
        moderation_state=ModerationState.approved,
        moderated_at=now_utc(),
        moderated_by_id=moderator.id,
    )
    comment = await moderate(session, job_pool, run_worker, comment)
    assert comment.moderation_state == ModerationState.approved
    assert comment.moderated_by_id == moderator.id


async def test_the_sweeper_enqueues_stragglers_once(
    session: AsyncSession, job_pool: ArqRedis, worker_ctx: dict[str, Any]
) -> None:
    message, _ = await transfer_message(session)
    fresh, _ = await transfer_message(session)
    await session.exec(  # type: ignore[call-overload]
        text("UPDATE outbox SET created_at = created_at - interval '1 minute' WHERE id = :id"),
        params={"id": message.id},
    )
    await session.commit()
    first = await sweep_outbox(worker_ctx)
    again = await sweep_outbox(worker_ctx)
    assert first["enqueued"] >= 1 and again["enqueued"] == 0
    queued = await job_pool.zrange(Queue.short, 0, -1)
    assert outbox.job_id_for(message.id).encode() in queued  # type: ignore[arg-type]
    assert outbox.job_id_for(fresh.id).encode() not in queued  # type: ignore[arg-type]


async def test_a_failed_tries_kept_result_does_not_block_the_sweepers_retry(
    session: AsyncSession, job_pool: ArqRedis, run_worker: RunWorker, worker_ctx: dict[str, Any]
) -> None:
    message, payload = await transfer_message(session)
    await session.exec(  # type: ignore[call-overload]
        text("UPDATE outbox SET payload = '{}'::jsonb WHERE id = :id"), params={"id": message.id}
    )
    await session.commit()
    await enqueue_message(job_pool, message.id)  # type: ignore[arg-type]
    await run_worker(Queue.short)  # fails (unreadable payload); its result is kept for a while
    job_id = outbox.job_id_for(message.id)  # type: ignore[arg-type]
    assert await job_pool.exists(f"arq:result:{job_id}")

    # The cause goes away (as PostgreSQL coming back would); the row is still waiting.
    await session.exec(  # type: ignore[call-overload]
        text(
            "UPDATE outbox SET payload = CAST(:p AS jsonb), created_at = created_at - interval '1 minute'"
            " WHERE id = :id"
        ),
        params={"id": message.id, "p": json.dumps(payload)},
    )
    await session.commit()
    assert (await sweep_outbox(worker_ctx))["enqueued"] == 1  # not blocked by the kept result
    await run_worker(Queue.short)
    logs = await session.exec(select(TransferLog.id).where(col(TransferLog.hero_id) == payload["hero_id"]))
    assert len(logs.all()) == 1


async def test_a_row_swept_too_often_becomes_a_dead_letter_and_is_left_alone(
    session: AsyncSession, job_pool: ArqRedis, worker_ctx: dict[str, Any]
) -> None:
    from shared.models.jobs import MAX_SWEEPS
    from shared.ops.queries import outbox_backlog

    message, _ = await transfer_message(session)
    await session.exec(  # type: ignore[call-overload]
        text("UPDATE outbox SET created_at = created_at - interval '1 hour', sweeps = :s WHERE id = :id"),
        params={"id": message.id, "s": MAX_SWEEPS - 1},
    )
    await session.commit()
    assert (await sweep_outbox(worker_ctx))["enqueued"] == 1  # the last allowed sweep
    await job_pool.delete(f"arq:job:{outbox.job_id_for(message.id)}")  # as if that try was lost too  # type: ignore[arg-type]
    await job_pool.zrem(Queue.short, outbox.job_id_for(message.id))  # type: ignore[arg-type]
    assert (await sweep_outbox(worker_ctx))["enqueued"] == 0
    session.expunge_all()
    backlog = await outbox_backlog(session)
    assert backlog.dead == 1 and backlog.waiting >= 1


async def test_one_audit_job_writes_every_waiting_audit_in_one_batch_and_the_others_then_skip(
    session: AsyncSession, job_pool: ArqRedis, run_worker: RunWorker, statements: StatementLog
) -> None:
    messages = [(await transfer_message(session))[0] for _ in range(5)]
    leader = await enqueue_message(job_pool, messages[0].id)  # type: ignore[arg-type]
    assert leader is not None
    with statements.record():
        await run_worker(Queue.short)
    inserts = [s for s in statements.statements if s.lstrip().upper().startswith("INSERT INTO TRANSFER_LOG")]
    assert len(inserts) == 2  # its own log, then the four others in one statement
    result = await leader.result_info()
    assert result is not None and result.success and result.result["batched"] == 4

    # Each row's own job still runs (at-least-once) and finds its row done: no second log.
    for message in messages[1:]:
        await enqueue_message(job_pool, message.id)  # type: ignore[arg-type]
    await run_worker(Queue.short)
    hero_ids = [message.payload["hero_id"] for message in messages]
    logs = (await session.exec(select(TransferLog.hero_id).where(col(TransferLog.hero_id).in_(hero_ids)))).all()
    assert sorted(logs) == sorted(hero_ids)
    session.expunge_all()
    pending = await session.exec(
        select(OutboxMessage.id).where(
            col(OutboxMessage.id).in_([m.id for m in messages]), col(OutboxMessage.processed_at).is_(None)
        )
    )
    assert pending.all() == []


async def test_a_poison_row_in_a_batch_does_not_block_the_job_that_took_it(
    session: AsyncSession, job_pool: ArqRedis, run_worker: RunWorker
) -> None:
    own, own_payload = await transfer_message(session)
    poison, _ = await transfer_message(session)
    _, good_payload = await transfer_message(session)
    await session.exec(  # type: ignore[call-overload]
        text("UPDATE outbox SET payload = '{}'::jsonb WHERE id = :id"), params={"id": poison.id}
    )
    await session.commit()

    job = await enqueue_message(job_pool, own.id)  # type: ignore[arg-type]
    assert job is not None
    await run_worker(Queue.short)
    result = await job.result_info()
    # The batch failed on the poison row and fell back to one row at a time: the good one is written.
    assert result is not None and result.success and result.result["batched"] == 1

    async def logs_of(payload: dict[str, Any]) -> int:
        rows = await session.exec(select(TransferLog.id).where(col(TransferLog.hero_id) == payload["hero_id"]))
        return len(rows.all())

    assert await logs_of(own_payload) == 1 and await logs_of(good_payload) == 1
    session.expunge_all()
    still_waiting = await session.exec(select(OutboxMessage.processed_at).where(col(OutboxMessage.id) == poison.id))
    assert still_waiting.one() is None  # left for its own job (which fails, saying why) and the sweeper


async def test_transfers_committed_within_one_window_share_one_audit_job_that_writes_them_all(
    worker_ctx: dict[str, Any], session: AsyncSession, job_pool: ArqRedis, run_worker: RunWorker
) -> None:
    factory = worker_ctx["session_factory"]  # the API's unit of work, on the test's connection
    hero_ids = []
    for _ in range(3):
        hero, team = await make_hero(session), await make_team(session)
        await session.commit()
        hero_ids.append(hero.id)
        async with unit_of_work(factory, job_pool) as work:
            await transfer_hero(work, hero.id, team.id, requested_by_id=None)  # type: ignore[arg-type]
    queued = [job_id.decode() for job_id in await job_pool.zrange(Queue.short, 0, -1)]
    windows = {job_id for job_id in queued if job_id.startswith(f"{PROCESS_TRANSFER_AUDITS.name}:")}
    assert 1 <= len(windows) <= 2 and len(queued) == len(windows)  # 3 commits: one job per window touched
    for job_id in windows:  # each runs at its window's end, when every commit of the window is in
        window_end = int(job_id.rpartition(":")[2])
        assert await job_pool.zscore(Queue.short, job_id) == window_end
        assert window_end % AUDIT_WINDOW_MS == 0

    await asyncio.sleep(AUDIT_WINDOW_MS / 1000)  # the windows end
    await run_worker(Queue.short)
    logs = (await session.exec(select(TransferLog.hero_id).where(col(TransferLog.hero_id).in_(hero_ids)))).all()
    assert sorted(logs) == sorted(hero_ids)  # each exactly once


async def test_an_audit_job_writes_the_readable_rows_and_leaves_an_unreadable_one_waiting(
    session: AsyncSession, worker_ctx: dict[str, Any]
) -> None:
    good, good_payload = await transfer_message(session)
    poison, _ = await transfer_message(session)
    other, other_payload = await transfer_message(session)
    await session.exec(  # type: ignore[call-overload]
        text("UPDATE outbox SET payload = '{}'::jsonb WHERE id = :id"), params={"id": poison.id}
    )
    await session.commit()
    assert await process_transfer_audits(worker_ctx) == {"logged": 2, "failed": 1}
    session.expunge_all()
    waiting = await session.exec(
        select(OutboxMessage.id).where(
            col(OutboxMessage.id).in_([good.id, poison.id, other.id]), col(OutboxMessage.processed_at).is_(None)
        )
    )
    assert waiting.all() == [poison.id]
    for payload in (good_payload, other_payload):
        logs = await session.exec(select(TransferLog.id).where(col(TransferLog.hero_id) == payload["hero_id"]))
        assert len(logs.all()) == 1
