"""Retention (shared.jobs.retention): each table's rows past their time are deleted, those inside it
kept, outbox rows still waiting never touched; a pass stops at its batch bound and the next goes
on; a row another transaction holds is skipped, not waited for; each batch's selection walks its
index; the settings are bounded."""

import asyncio
import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import create_session_factory
from shared.jobs import retention
from shared.jobs.records import JOB_RECORD_RETENTION_DAYS
from shared.models.base import now_utc
from shared.models.jobs import MAX_SWEEPS
from shared.settings import Settings, get_settings
from tests.shared.factories import make_user, unique

OUTBOX, KEYS, JOBS = retention.RULES[:3]  # job history's two: tests/ops/test_job_history_retention.py


async def sql(session: AsyncSession, statement: str, **params: Any) -> Any:
    return await session.exec(text(statement), params=params)  # type: ignore[call-overload]


async def outbox_row(session: AsyncSession, processed_hours_ago: float | None, *, sweeps: int = 0) -> int:
    """An outbox row made a month ago, processed that many hours ago (None: still waiting)."""
    processed = None if processed_hours_ago is None else now_utc() - timedelta(hours=processed_hours_ago)
    created = now_utc() - timedelta(days=30)
    inserted = await sql(
        session,
        "INSERT INTO outbox (topic, payload, created_at, processed_at, sweeps)"
        " VALUES ('transfer_audit', '{}'::jsonb, :created, :processed, :sweeps) RETURNING id",
        created=created,
        processed=processed,
        sweeps=sweeps,
    )
    return int(inserted.scalar_one())


async def key_row(session: AsyncSession, user_id: int, hours_ago: float) -> str:
    key = unique("key")
    await sql(
        session,
        "INSERT INTO idempotency_key (user_id, key, request_fingerprint, status_code, response_body, created_at)"
        " VALUES (:user_id, :key, 'f', 200, '{}'::jsonb, :created)",
        user_id=user_id,
        key=key,
        created=now_utc() - timedelta(hours=hours_ago),
    )
    return key


async def job_row(session: AsyncSession, status: str, finished_days_ago: float | None) -> str:
    job_id = unique("job")
    finished = None if finished_days_ago is None else now_utc() - timedelta(days=finished_days_ago)
    await sql(
        session,
        "INSERT INTO job (id, function, queue, arguments, status, created_at, finished_at)"
        " VALUES (:id, 'bulk_update_heroes', 'guildhall:bulk', '{}'::jsonb, :status, :created, :finished)",
        id=job_id,
        status=status,
        created=now_utc() - timedelta(days=60),
        finished=finished,
    )
    return job_id


async def ids_left(session: AsyncSession, table: str, column: str) -> set[Any]:
    return set((await sql(session, f"SELECT {column} FROM {table}")).scalars().all())


async def test_each_table_loses_what_is_past_its_time_and_keeps_the_rest(
    session: AsyncSession, worker_ctx: dict[str, Any]
) -> None:
    hours = get_settings().outbox_retention_hours
    for _ in range(3):
        await outbox_row(session, hours + 1)
    # Processed inside the window, still waiting (a month old), a dead letter: all kept.
    kept_outbox = {
        await outbox_row(session, hours - 1),
        await outbox_row(session, None),
        await outbox_row(session, None, sweeps=MAX_SWEEPS),
    }
    user = await make_user(session)
    assert user.id is not None
    key_hours = get_settings().idempotency_key_hours
    for _ in range(2):
        await key_row(session, user.id, key_hours + 1)
    kept_keys = {await key_row(session, user.id, key_hours - 1)}
    old_jobs = [
        await job_row(session, "complete", JOB_RECORD_RETENTION_DAYS + 1),
        await job_row(session, "failed", JOB_RECORD_RETENTION_DAYS + 2),
    ]
    # A failed bulk update keeps its staged items for a retry: they go with its record.
    await sql(session, "INSERT INTO hero_update_items (job_id, ids) VALUES (:id, ARRAY[1, 2])", id=old_jobs[1])
    kept_jobs = {
        await job_row(session, "complete", JOB_RECORD_RETENTION_DAYS - 1),
        await job_row(session, "queued", None),  # two months old, never finished
        await job_row(session, "in_progress", None),
    }
    await session.commit()

    deleted = await retention.prune_retained(worker_ctx)

    assert deleted == {"outbox": 3, "idempotency_key": 2, "job": 2, "job_run": 0, "job_metric_minute": 0}
    assert await ids_left(session, "outbox", "id") == kept_outbox
    assert await ids_left(session, "idempotency_key", "key") == kept_keys
    assert await ids_left(session, "job", "id") == kept_jobs
    assert await ids_left(session, "hero_update_items", "job_id") == set()
    assert set((await retention.prune_retained(worker_ctx)).values()) == {0}


async def test_the_retention_settings_decide(session: AsyncSession, worker_ctx: dict[str, Any]) -> None:
    two_hours = get_settings().model_copy(update={"outbox_retention_hours": 2, "idempotency_key_hours": 2})
    gone, kept = await outbox_row(session, 3), await outbox_row(session, 1)
    user = await make_user(session)
    assert user.id is not None
    await key_row(session, user.id, 3)
    kept_key = await key_row(session, user.id, 1)
    await session.commit()
    assert await retention.prune(worker_ctx | {"settings": two_hours}, (OUTBOX, KEYS)) == {
        "outbox": 1,
        "idempotency_key": 1,
    }
    assert gone not in (left := await ids_left(session, "outbox", "id")) and kept in left
    assert await ids_left(session, "idempotency_key", "key") == {kept_key}


async def test_a_pass_stops_at_its_batch_bound_and_the_next_pass_goes_on_oldest_first(
    session: AsyncSession, worker_ctx: dict[str, Any]
) -> None:
    hours = get_settings().outbox_retention_hours
    # Oldest first: the first row is the longest processed.
    rows = [await outbox_row(session, hours + 10 - i) for i in range(7)]
    await session.commit()
    small = dataclasses.replace(OUTBOX, batch=2, max_batches=2)

    assert await retention.prune(worker_ctx, (small,)) == {"outbox": 4}
    assert await ids_left(session, "outbox", "id") == set(rows[4:])
    assert await retention.prune(worker_ctx, (small,)) == {"outbox": 3}  # 2, then 1: nothing more
    assert await ids_left(session, "outbox", "id") == set()


async def test_a_row_another_transaction_holds_is_skipped_not_waited_for(engine: AsyncEngine) -> None:
    """On real commits: one expired row is locked by another transaction (a request replacing an
    expired key would hold it so); the pass deletes the others at once and leaves that one."""
    factory = create_session_factory(engine)
    ctx = {"settings": get_settings(), "session_factory": factory, "redis": None}
    async with factory() as setup:
        user = await make_user(setup)
        assert user.id is not None
        keys = [await key_row(setup, user.id, get_settings().idempotency_key_hours + 1) for _ in range(3)]
        await setup.commit()
    try:
        async with engine.connect() as holder:
            await holder.begin()
            await holder.execute(
                text("SELECT 1 FROM idempotency_key WHERE user_id = :user_id AND key = :key FOR UPDATE"),
                {"user_id": user.id, "key": keys[0]},
            )
            deleted = await asyncio.wait_for(retention.prune(ctx, (KEYS,)), timeout=10)
            await holder.rollback()
        assert deleted == {"idempotency_key": 2}
        async with factory() as check:
            assert await ids_left(check, "idempotency_key", "key") == {keys[0]}
    finally:
        async with factory() as cleanup:  # the user's keys go with it (ON DELETE CASCADE)
            await sql(cleanup, "DELETE FROM user_account WHERE id = :id", id=user.id)
            await cleanup.commit()


async def test_a_batch_that_meets_a_lock_gives_up_at_its_lock_timeout_and_the_others_go_on(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    """On real commits: a migration (say) holds the job table; its batch waits BATCH_LOCK_TIMEOUT_MS,
    not the worker's 30 s, and the pass carries on with the other tables."""
    factory = create_session_factory(engine)
    ctx = {"settings": get_settings(), "session_factory": factory, "redis": None}
    async with engine.connect() as holder:
        await holder.begin()
        await holder.execute(text("LOCK TABLE job IN ACCESS EXCLUSIVE MODE"))
        started = asyncio.get_running_loop().time()
        deleted = await asyncio.wait_for(retention.prune(ctx, (JOBS, OUTBOX)), timeout=10)
        waited = asyncio.get_running_loop().time() - started
        await holder.rollback()
    assert deleted == {"job": 0, "outbox": 0}
    assert waited < 3, waited  # 200 ms of lock timeout, with slack for a busy machine
    assert "retention of job stopped" in caplog.text and "lock" in caplog.text


async def test_a_pass_past_its_time_budget_starts_no_more_batches(
    session: AsyncSession, worker_ctx: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    row = await outbox_row(session, get_settings().outbox_retention_hours + 1)
    await session.commit()
    monkeypatch.setattr(retention, "PASS_BUDGET_SECONDS", -1.0)
    assert await retention.prune(worker_ctx, (OUTBOX,)) == {"outbox": 0}
    assert row in await ids_left(session, "outbox", "id")


async def explain(session: AsyncSession, rule: retention.Retention) -> str:
    """PostgreSQL's plan for the very batch DELETE the pass sends (asyncpg's dialect, its own values)."""
    connection = await session.connection()
    compiled = rule.batch_delete(get_settings()).compile(dialect=connection.dialect)
    params = tuple(compiled.params[name] for name in compiled.positiontup or ())
    plan = await connection.exec_driver_sql(f"EXPLAIN {compiled}", params)
    return "\n".join(row[0] for row in plan.all())


@pytest.mark.parametrize(
    ("rule", "index", "fetch"),
    [
        (OUTBOX, "ix_outbox_processed_at", "Index Scan using pk_outbox on outbox"),
        (KEYS, "ix_idempotency_key_created_at", "Tid Scan on idempotency_key"),
        (JOBS, "ix_job_finished_at", "Index Scan using pk_job on job"),
    ],
    ids=["outbox", "idempotency_key", "job"],
)
async def test_each_batch_selects_its_rows_through_its_index_and_deletes_them_by_key(
    session: AsyncSession, rule: retention.Retention, index: str, fetch: str
) -> None:
    user = await make_user(session)
    # 20,000 rows, a tenth past their time, a tenth (outbox, job) still waiting or running.
    ages = "CASE WHEN g % 10 = 0 THEN NULL ELSE now() - (g % 1000) * interval '1 hour' END"
    inserts = {
        "outbox": "INSERT INTO outbox (topic, payload, created_at, processed_at)"
        f" SELECT 'transfer_audit', '{{}}'::jsonb, now() - interval '60 days', {ages} FROM generate_series(1, 20000) g",
        "idempotency_key": "INSERT INTO idempotency_key"
        " (user_id, key, request_fingerprint, status_code, response_body, created_at)"
        " SELECT :user_id, 'k' || g, 'f', 200, '{}'::jsonb, now() - (g % 300) * interval '1 hour'"
        " FROM generate_series(1, 20000) g",
        "job": "INSERT INTO job (id, function, queue, arguments, status, created_at, finished_at)"
        " SELECT 'j' || g, 'bulk_update_heroes', 'guildhall:bulk', '{}'::jsonb,"
        " CASE WHEN g % 10 = 0 THEN 'queued' ELSE 'complete' END, now() - interval '60 days',"
        " CASE WHEN g % 10 = 0 THEN NULL ELSE now() - (g % 40) * interval '1 day' END"
        " FROM generate_series(1, 20000) g",
    }
    await sql(session, inserts[rule.name], **({"user_id": user.id} if rule.name == "idempotency_key" else {}))
    await sql(session, f"ANALYZE {rule.name}")
    plan = await explain(session, rule)
    assert f"Index Scan using {index} on {rule.name} chosen" in plan, plan  # the batch, chosen by age
    assert fetch in plan, plan  # its rows, fetched by key: never a join that reads the whole table
    assert "Seq Scan" not in plan, plan


@pytest.mark.parametrize("name", ["outbox_retention_hours", "idempotency_key_hours"])
@pytest.mark.parametrize("value", [0, -1, 7 * 24 + 1, "a day"])
def test_a_retention_outside_1_hour_to_a_week_is_refused_at_start_up(name: str, value: object) -> None:
    with pytest.raises(ValidationError, match=name):
        Settings(**{name: value})  # type: ignore[arg-type]


def test_the_retention_defaults_are_a_day() -> None:
    settings = Settings(_env_file=None)
    assert (settings.outbox_retention_hours, settings.idempotency_key_hours) == (24, 24)
    assert Settings(outbox_retention_hours=7 * 24, idempotency_key_hours=1)
