"""Bulk jobs: all-or-nothing, offenders named, progress reported, idempotent; each runs a durable
job record once at a time, and its outcome commits with its work."""

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import pytest
from arq import ArqRedis, Retry
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, func, select, text
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.blog.jobs import BULK_POST_OPERATION
from shared.db import create_session_factory, flush
from shared.errors import DatabaseUnavailable
from shared.heroes.bulk_schemas import BulkHeroUpdate
from shared.heroes.jobs import BULK_DELETE_HEROES, BULK_UPDATE_HEROES, bulk_update_heroes
from shared.heroes.rule_breakers import find_rule_breakers
from shared.jobs import progress, records
from shared.jobs.after_commit import discard_pending
from shared.jobs.enqueue import enqueue
from shared.jobs.queues import Queue
from shared.jobs.recorded import JobTimedOut, run_recorded
from shared.models.base import now_utc
from shared.models.blog import Comment, Post
from shared.models.catalog import Category
from shared.models.heroes import Hero, Item, TransferLog
from shared.settings import get_settings
from tests.conftest import RunWorker
from tests.shared.factories import make_user
from tests.support.bulk import accept, hero_ids, run_job


async def record_of(session: AsyncSession, job_id: str) -> records.JobView:
    session.expire_all()
    record = await records.read(session, job_id)
    assert record is not None
    return record


async def test_bulk_update_changes_every_row_and_reports_progress(
    session: AsyncSession, job_pool: ArqRedis, run_worker: RunWorker
) -> None:
    ids = await hero_ids(session, teams=25, per_team=100)
    items = [{"id": hero_id, "power_level": 12.5, "age": 40} for hero_id in ids] + [{"id": 2_000_000_000, "age": 41}]
    info, job_id = await run_job(session, job_pool, run_worker, BULK_UPDATE_HEROES, items=items)
    assert info.success, info.result
    assert info.result == {"updated": len(ids), "missing_ids": [2_000_000_000]}
    changed = await session.exec(
        select(func.count()).select_from(Hero).where(col(Hero.id).in_(ids), Hero.power_level == 12.5, Hero.age == 40)
    )
    assert changed.one() == len(ids)
    record = await progress.read(job_pool, job_id)
    assert progress.progress_of(record) == {"done": len(items), "total": len(items)}
    assert record["try"] == 1 and record["started_ms"] > 0

    again, _ = await run_job(session, job_pool, run_worker, BULK_UPDATE_HEROES, items=items)
    assert again.success and again.result["updated"] == len(ids)  # same values: nothing new


async def test_one_bad_row_fails_the_job_names_it_and_changes_nothing(
    session: AsyncSession, job_pool: ArqRedis, run_worker: RunWorker
) -> None:
    ids = await hero_ids(session, teams=3, per_team=10)
    young = ids[7]
    await session.exec(text("UPDATE hero SET age = 16, power_level = 10 WHERE id = :id"), params={"id": young})  # type: ignore[call-overload]
    await session.commit()
    items = [{"id": hero_id, "power_level": 90} for hero_id in ids]
    info, _ = await run_job(session, job_pool, run_worker, BULK_UPDATE_HEROES, items=items)
    assert not info.success
    assert info.result.type == "BulkRefused"
    assert f"offending hero ids: {young}" in info.result.message
    assert "under 18" in info.result.message
    unchanged = await session.exec(
        select(func.count()).select_from(Hero).where(col(Hero.id).in_(ids), Hero.power_level == 90)
    )
    assert unchanged.one() == 0


async def test_a_duplicate_name_and_identity_names_both_heroes(
    session: AsyncSession, job_pool: ArqRedis, run_worker: RunWorker
) -> None:
    ids = await hero_ids(session, teams=1, per_team=4)
    items = [
        {"id": ids[0], "name": "Twin", "secret_identity": "Same"},
        {"id": ids[2], "name": "Twin", "secret_identity": "Same"},
    ]
    info, _ = await run_job(session, job_pool, run_worker, BULK_UPDATE_HEROES, items=items)
    assert not info.success
    assert f"offending hero ids: {ids[0]}, {ids[2]}" in info.result.message


async def test_bulk_delete_takes_items_and_keeps_transfer_logs(
    session: AsyncSession, job_pool: ArqRedis, run_worker: RunWorker
) -> None:
    ids = await hero_ids(session, teams=2, per_team=50)
    session.add(TransferLog(hero_id=ids[0], from_team_id=None, to_team_id=None, transfer_date=now_utc()))
    await session.commit()
    info, _ = await run_job(session, job_pool, run_worker, BULK_DELETE_HEROES, ids=[*ids, 2_000_000_001])
    assert info.success and info.result == {"deleted": len(ids), "missing_ids": [2_000_000_001]}
    assert (await session.exec(select(func.count()).select_from(Item).where(col(Item.hero_id).in_(ids)))).one() == 0
    assert (
        await session.exec(select(func.count()).select_from(TransferLog).where(TransferLog.hero_id == ids[0]))
    ).one() == 1
    again, _ = await run_job(session, job_pool, run_worker, BULK_DELETE_HEROES, ids=ids)
    assert again.result == {"deleted": 0, "missing_ids": sorted(ids)}


async def test_bulk_post_operations_by_filter_and_by_ids(
    session: AsyncSession, job_pool: ArqRedis, run_worker: RunWorker
) -> None:
    author, other = await make_user(session), await make_user(session)
    root = Category(name="bulk-root")
    session.add(root)
    await flush(session)
    child = Category(name="bulk-child", parent_id=root.id)
    session.add(child)
    await flush(session)
    drafts = [Post(title=f"d{i}", content="c", author_id=author.id, category_id=child.id) for i in range(5)]
    foreign = Post(title="other", content="c", author_id=other.id, category_id=child.id)
    session.add_all([*drafts, foreign])
    await flush(session)
    session.add_all(Comment(content="hi", post_id=post.id, author_id=other.id) for post in drafts)  # type: ignore[misc]
    await session.commit()

    request = {"action": "publish", "filter": {"author_id": author.id, "category_id": root.id}}
    info, _ = await run_job(session, job_pool, run_worker, BULK_POST_OPERATION, **request)
    assert info.success and info.result == {"action": "publish", "published": 5}
    again, _ = await run_job(session, job_pool, run_worker, BULK_POST_OPERATION, **request)
    assert again.result == {"action": "publish", "published": 0}
    await session.refresh(foreign)
    assert foreign.status == "draft"

    delete = {"action": "delete", "ids": [post.id for post in drafts]}
    info, _ = await run_job(session, job_pool, run_worker, BULK_POST_OPERATION, **delete)
    assert info.result == {"action": "delete", "deleted": 5, "comments_deleted": 5}
    left = await session.exec(
        select(func.count()).select_from(Comment).where(col(Comment.post_id).in_([p.id for p in drafts]))
    )
    assert left.one() == 0


async def test_an_unknown_team_names_the_heroes_that_point_at_it(
    session: AsyncSession, job_pool: ArqRedis, run_worker: RunWorker
) -> None:
    ids = await hero_ids(session, teams=1, per_team=3)
    items = [{"id": ids[0], "age": 50}, {"id": ids[1], "team_id": 2_000_000_000}]
    info, _ = await run_job(session, job_pool, run_worker, BULK_UPDATE_HEROES, items=items)
    assert not info.success and info.result.type == "BulkRefused"
    # Exactly the hero pointing at the missing team: the other item broke no rule.
    assert info.result.message.endswith(f"; offending hero ids: {ids[1]}"), info.result.message
    assert info.result.message.startswith("bulk update refused: the team does not exist"), info.result.message
    assert (await session.exec(select(func.count()).select_from(Hero).where(Hero.age == 50))).one() == 0


async def test_progress_is_best_effort_when_redis_is_gone(caplog: pytest.LogCaptureFixture) -> None:
    from shared.jobs.queues import create_job_pool

    unreachable = create_job_pool("redis://127.0.0.1:1/0")
    try:
        started = asyncio.get_running_loop().time()
        with caplog.at_level(logging.WARNING, logger=progress.logger.name):
            await progress.report(unreachable, "some-job", 1, 2)  # logs, does not raise
        took = asyncio.get_running_loop().time() - started
    finally:
        await unreachable.aclose()
    # Bounded (a job's open transaction waits on it), and said: the lost report is a WARNING line.
    assert took < progress.REPORT_TIMEOUT_SECONDS + 1
    [line] = [r for r in caplog.records if r.name == progress.logger.name]
    assert line.levelname == "WARNING" and "progress of job some-job not recorded (1/2)" in line.getMessage()


async def test_the_outcome_is_the_records_and_commits_with_the_work(
    session: AsyncSession, job_pool: ArqRedis, run_worker: RunWorker
) -> None:
    ids = await hero_ids(session, teams=1, per_team=5)
    info, job_id = await run_job(session, job_pool, run_worker, BULK_UPDATE_HEROES, items=[{"id": ids[0], "age": 44}])
    record = await record_of(session, job_id)
    assert info.success and record.status == "complete" and record.result == info.result and record.tries == 1
    staged = text("SELECT count(*) FROM hero_update_items WHERE job_id = :id")
    assert (await session.exec(staged, params={"id": job_id})).one()[0] == 0  # type: ignore[call-overload]  # applied: gone
    assert record.started_at is not None and record.finished_at is not None and record.error is None

    await session.exec(text("UPDATE hero SET age = 16, power_level = 10 WHERE id = :id"), params={"id": ids[1]})  # type: ignore[call-overload]
    await session.commit()
    info, job_id = await run_job(
        session, job_pool, run_worker, BULK_UPDATE_HEROES, items=[{"id": ids[1], "power_level": 90}]
    )
    failed = await record_of(session, job_id)
    assert not info.success and failed.status == "failed" and failed.result is None
    assert (await session.exec(staged, params={"id": job_id})).one()[0] == 1  # type: ignore[call-overload]  # kept for a retry
    assert failed.error is not None and failed.error["type"] == "BulkRefused" and str(ids[1]) in failed.error["message"]


async def test_a_second_trigger_of_a_finished_record_changes_nothing(
    session: AsyncSession, job_pool: ArqRedis, run_worker: RunWorker
) -> None:
    ids = await hero_ids(session, teams=1, per_team=2)
    _, job_id = await run_job(session, job_pool, run_worker, BULK_UPDATE_HEROES, items=[{"id": ids[0], "age": 45}])
    await session.exec(text("UPDATE hero SET age = 46 WHERE id = :id"), params={"id": ids[0]})  # type: ignore[call-overload]
    await session.commit()
    # A late sweep, or a trigger Redis replayed: a new arq job for the same record.
    assert await enqueue(job_pool, BULK_UPDATE_HEROES, record_id=job_id)
    await run_worker(Queue.bulk)
    session.expire_all()
    assert await session.scalar(select(Hero.age).where(Hero.id == ids[0])) == 46  # not set back to 45
    assert (await record_of(session, job_id)).tries == 1


async def test_a_record_another_run_holds_is_left_to_that_run_not_run_beside_it(
    session: AsyncSession, job_pool: ArqRedis, engine: AsyncEngine, worker_ctx: dict[str, Any]
) -> None:
    ids = await hero_ids(session, teams=1, per_team=1)
    job_id = await accept(session, job_pool, BULK_UPDATE_HEROES, items=[{"id": ids[0], "age": 47}])
    key = {"k": f"guildhall.job:{job_id}"}
    async with engine.connect() as other:  # another worker's run, holding the record's lock
        await other.execute(text("SELECT pg_advisory_lock(hashtextextended(:k, 0))"), key)
        try:
            outcome = await bulk_update_heroes({**worker_ctx, "job_id": job_id}, job_id)
            assert outcome == {"skipped": "running elsewhere"}
        finally:
            await other.execute(text("SELECT pg_advisory_unlock(hashtextextended(:k, 0))"), key)
    record = await record_of(session, job_id)
    assert record.status == "queued" and record.tries == 0
    assert await session.scalar(select(Hero.age).where(Hero.id == ids[0])) != 47


async def test_a_record_whose_runs_never_finish_is_failed_instead_of_started_again(
    session: AsyncSession, job_pool: ArqRedis, worker_ctx: dict[str, Any]
) -> None:
    ids = await hero_ids(session, teams=1, per_team=1)
    job_id = await accept(session, job_pool, BULK_UPDATE_HEROES, items=[{"id": ids[0], "age": 48}])
    # As MAX_RUNS killed workers leave it: started that often, never finished.
    await session.exec(  # type: ignore[call-overload]
        text("UPDATE job SET status = 'in_progress', tries = :n WHERE id = :id"),
        params={"id": job_id, "n": records.MAX_RUNS},
    )
    await session.commit()
    assert await bulk_update_heroes({**worker_ctx, "job_id": job_id}, job_id) == {"skipped": "gave up"}
    record = await record_of(session, job_id)
    assert record.status == "failed" and record.error is not None and record.error["type"] == "GaveUp"
    assert await session.scalar(select(Hero.age).where(Hero.id == ids[0])) != 48


async def test_an_aborted_record_does_not_take_the_work_of_a_run_that_was_still_going(
    session: AsyncSession, job_pool: ArqRedis
) -> None:
    ids = await hero_ids(session, teams=1, per_team=1)
    job_id = await accept(session, job_pool, BULK_UPDATE_HEROES, items=[{"id": ids[0], "age": 49}])
    await session.exec(text("UPDATE job SET status = 'in_progress' WHERE id = :id"), params={"id": job_id})  # type: ignore[call-overload]
    assert await records.abort(session, job_id, by="ada") == "in_progress"
    with pytest.raises(records.RecordChanged):  # the run's last statement: its transaction rolls back
        await records.complete(session, job_id, {"updated": 1})


async def test_each_item_changes_only_the_fields_it_names_and_a_null_team_leaves_the_team(
    session: AsyncSession, job_pool: ArqRedis, run_worker: RunWorker
) -> None:
    ids = await hero_ids(session, teams=1, per_team=3)

    def snapshot(heroes: Sequence[Hero]) -> dict[int | None, tuple[object, ...]]:
        # Plain values: the ORM hands back the same (refreshed) objects on the second read.
        return {h.id: (h.name, h.secret_identity, h.age, h.power_level, h.team_id) for h in heroes}

    before = snapshot((await session.exec(select(Hero).where(col(Hero.id).in_(ids)))).all())
    assert all(values[4] is not None for values in before.values())
    items = [
        {"id": ids[0], "team_id": None},
        {"id": ids[1], "name": "Renamed Hero", "secret_identity": "New Identity"},
        {"id": ids[2], "age": 51, "power_level": 99.5},
    ]
    info, _ = await run_job(session, job_pool, run_worker, BULK_UPDATE_HEROES, items=items)
    assert info.success and info.result == {"updated": 3, "missing_ids": []}
    session.expire_all()
    after = snapshot((await session.exec(select(Hero).where(col(Hero.id).in_(ids)))).all())
    assert after[ids[0]] == (*before[ids[0]][:4], None)
    assert after[ids[1]] == ("Renamed Hero", "New Identity", *before[ids[1]][2:])
    assert after[ids[2]] == (*before[ids[2]][:2], 51, 99.5, before[ids[2]][4])


async def run_with(
    session: AsyncSession, job_pool: ArqRedis, worker_ctx: dict[str, Any], work: Any, **settings: Any
) -> tuple[str, Any]:
    """run_recorded for a fresh record with `work`; the outcome (or the exception) and the id."""
    job_id = await accept(session, job_pool, BULK_UPDATE_HEROES, items=[{"id": 1, "age": 40}])
    ctx = {**worker_ctx, "job_id": job_id, "settings": worker_ctx["settings"].model_copy(update=settings)}
    try:
        return job_id, await run_recorded(ctx, job_id, work)
    except Exception as error:
        return job_id, error


async def test_a_run_that_lost_a_race_is_tried_again_and_its_record_stays_unfinished(
    session: AsyncSession, job_pool: ArqRedis, worker_ctx: dict[str, Any]
) -> None:
    async def deadlocked(job_session: AsyncSession) -> dict[str, Any]:
        await job_session.exec(text("DO $$ BEGIN RAISE EXCEPTION 'lost' USING ERRCODE = '40P01'; END $$"))  # type: ignore[call-overload]
        return {}

    job_id, outcome = await run_with(session, job_pool, worker_ctx, deadlocked)
    assert isinstance(outcome, Retry)
    assert (await record_of(session, job_id)).status in ("queued", "in_progress")  # not failed


async def test_a_run_past_its_time_limit_fails_its_record_saying_so(
    session: AsyncSession, job_pool: ArqRedis, worker_ctx: dict[str, Any]
) -> None:
    async def slow(job_session: AsyncSession) -> dict[str, Any]:
        await asyncio.sleep(5)
        return {}

    # bulk_job_timeout_seconds 11: the work is stopped TIMEOUT_MARGIN_SECONDS before, after 1 s.
    job_id, outcome = await run_with(session, job_pool, worker_ctx, slow, bulk_job_timeout_seconds=11)
    assert isinstance(outcome, JobTimedOut)
    record = await record_of(session, job_id)
    assert record.status == "failed" and record.error is not None and record.error["type"] == "JobTimedOut"


async def test_a_statement_past_its_timeout_fails_the_record_instead_of_running_it_again(
    session: AsyncSession, job_pool: ArqRedis, worker_ctx: dict[str, Any]
) -> None:
    async def stuck(job_session: AsyncSession) -> dict[str, Any]:
        await job_session.exec(text("SET LOCAL statement_timeout = 50"))  # type: ignore[call-overload]
        await job_session.exec(text("SELECT pg_sleep(2)"))  # type: ignore[call-overload]
        return {}

    job_id, outcome = await run_with(session, job_pool, worker_ctx, stuck)
    assert isinstance(outcome, DatabaseUnavailable) and outcome.sqlstate == "57014"
    record = await record_of(session, job_id)
    assert record.status == "failed" and record.error is not None and record.error["type"] == "JobTimedOut"


async def test_an_admin_retry_gives_the_record_all_its_runs_again(session: AsyncSession, job_pool: ArqRedis) -> None:
    job_id = await accept(session, job_pool, BULK_UPDATE_HEROES, items=[{"id": 1, "age": 40}])
    await session.exec(  # type: ignore[call-overload]
        text("UPDATE job SET status = 'failed', tries = :n WHERE id = :id"),
        params={"id": job_id, "n": records.MAX_RUNS},
    )
    await records.requeue_failed(session, job_id)
    discard_pending(session)
    record = await record_of(session, job_id)
    assert (record.status, record.tries, record.started_at) == ("queued", 0, None)


async def test_on_real_connections_a_failed_run_keeps_its_start_and_an_abort_rolls_a_finishing_run_back(
    engine: AsyncEngine, job_pool: ArqRedis
) -> None:
    """What the one-connection harness cannot show: each session its own connection and its own
    COMMIT, as in the worker. A failed run's start (in_progress, tries 1) was committed apart from
    its rolled-back work; an abort that lands while a run is finishing makes that run roll back."""
    factory = create_session_factory(engine)
    ctx = {"settings": get_settings(), "session_factory": factory, "redis": job_pool}
    async with factory() as session:
        job_id = await records.accept(session, BULK_DELETE_HEROES, {"ids": [1]}, None)
        discard_pending(session)
        await session.commit()
    try:

        async def refused(job_session: AsyncSession) -> dict[str, Any]:
            raise ValueError("this input is refused")

        with pytest.raises(ValueError):
            await run_recorded({**ctx, "job_id": job_id}, job_id, refused)
        async with factory() as session:
            failed = await records.read(session, job_id)
            assert failed is not None and (failed.status, failed.tries) == ("failed", 1)
            await records.requeue_failed(session, job_id)
            discard_pending(session)
            await session.commit()

        async def aborted_meanwhile(job_session: AsyncSession) -> dict[str, Any]:
            async with factory() as admin_session:  # an admin's request, on its own connection
                await records.abort(admin_session, job_id, by="ada")
                await admin_session.commit()
            return {"deleted": 0, "missing_ids": [1]}

        with pytest.raises(records.RecordChanged):
            await run_recorded({**ctx, "job_id": job_id}, job_id, aborted_meanwhile)
        async with factory() as session:
            final = await records.read(session, job_id)
            assert final is not None and final.status == "failed" and final.result is None
            assert final.error == {"type": "Aborted", "message": "aborted by ada"} and final.tries == 1
    finally:
        async with factory() as session:  # real commits above: leave the test database as it was
            await session.exec(text("DELETE FROM job WHERE id = :id"), params={"id": job_id})  # type: ignore[call-overload]
            await session.commit()


async def test_the_diagnostics_apply_every_check_of_the_hero_table_to_the_merged_values(session: AsyncSession) -> None:
    """find_rule_breakers evaluates the table's own CHECK conditions (shared/models/heroes.py) on
    stored + new values: each CHECK is caught, on a field the item sets or on one it leaves stored."""
    ids = await hero_ids(session, teams=1, per_team=6)
    await session.exec(text("UPDATE hero SET age = 16, power_level = 10 WHERE id = :id"), params={"id": ids[4]})  # type: ignore[call-overload]
    items: list[BulkHeroUpdate] = [
        {"id": ids[0], "name": "  SeCrEt "},  # name_not_secret (trimmed, any case)
        {"id": ids[1], "age": 10, "power_level": 60},  # young_hero_power, both given
        {"id": ids[2], "age": 30},  # no rule broken
        {"id": ids[3], "name": "Fine"},  # no rule broken
        {"id": ids[4], "power_level": 51},  # young_hero_power against the stored age
        {"id": ids[5], "power_level": 100, "age": 18},  # the bounds themselves are allowed
    ]
    assert await find_rule_breakers(session, items) == [ids[0], ids[1], ids[4]]
