"""The lasting job history (shared.ops.recorder, job_run): the production worker records every try,
with its function, queue, job id, arguments (secrets hidden), status, try number, start, end,
worker and error; in batches (two statements per flush, whatever the number of runs); best effort
with PostgreSQL down (kept, bounded, written once it answers); on shutdown too."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from arq import ArqRedis
from arq.worker import func
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool
from sqlmodel.ext.asyncio.session import AsyncSession as ModelSession

from shared.jobs.queues import Queue
from shared.models.jobs import RunStatus
from shared.ops.metric_history import metric_history
from shared.ops.recorder import ARGS_PREVIEW_CHARS, HIDDEN, HistoryRecorder, RunRecord, args_preview
from tests.conftest import StatementLog
from tests.ops.conftest import TEST_FUNCTIONS, TEST_WORKER, OpsWorker
from tests.support.queues import enqueue


def recorder_on(connection: AsyncConnection, **options: Any) -> HistoryRecorder:
    """A recorder writing on the test's connection (savepoints: the test's rollback undoes it)."""
    factory = async_sessionmaker(
        bind=connection, class_=AsyncSession, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    return HistoryRecorder(factory, **options)  # type: ignore[arg-type]


@pytest.fixture
def recorder(connection: AsyncConnection) -> HistoryRecorder:
    return recorder_on(connection, flush_seconds=0.05)


@pytest.fixture
def history_worker(job_pool: ArqRedis, recorder: HistoryRecorder) -> OpsWorker:
    return OpsWorker(job_pool, ctx={"job_history": recorder})


async def runs_of(connection: AsyncConnection, *job_ids: str) -> list[Any]:
    rows = await connection.execute(
        text("SELECT * FROM job_run WHERE job_id = ANY(:ids) ORDER BY id"), {"ids": list(job_ids)}
    )
    return list(rows.all())


async def test_every_try_is_recorded_with_what_ran_where_and_how_it_ended(
    connection: AsyncConnection, job_pool: ArqRedis, history_worker: OpsWorker
) -> None:
    before = datetime.now(UTC)
    ok = await enqueue(job_pool, "ops_ok", 21)
    failed = await enqueue(job_pool, "ops_fail", "a broken input")
    await history_worker.run(jobs=10)  # the burst ends with the queue empty; its shutdown flushes

    rows = {row.job_id: row for row in await runs_of(connection, ok, failed)}
    assert set(rows) == {ok, failed}
    assert (rows[ok].function, rows[ok].status, rows[ok].error_type) == ("ops_ok", RunStatus.complete, None)
    assert (rows[failed].function, rows[failed].status) == ("ops_fail", RunStatus.failed)
    assert (rows[failed].error_type, rows[failed].error_message) == ("OpsJobFailed", "refused: a broken input")
    assert '"args": [21]' in rows[ok].args_preview and "a broken input" in rows[failed].args_preview
    for row in rows.values():
        assert (row.queue, row.attempt, row.worker) == (Queue.short, 1, TEST_WORKER)
        assert before - timedelta(seconds=1) <= row.enqueued_at <= row.started_at <= row.ended_at
        assert row.ended_at < datetime.now(UTC) and 0 <= row.duration_ms < 5_000
        assert row.wait_ms is not None and 0 <= row.wait_ms < 5_000


async def test_runs_are_written_in_one_transaction_of_two_statements_whatever_their_number(
    connection: AsyncConnection, job_pool: ArqRedis, statements: StatementLog
) -> None:
    recorder = recorder_on(connection, flush_seconds=60, flush_rows=10_000)  # only the shutdown flushes
    worker = OpsWorker(job_pool, ctx={"job_history": recorder})
    ids = [await enqueue(job_pool, "ops_ok", n) for n in range(40)]
    await worker.run(jobs=100)  # until the queue is empty
    assert len(await runs_of(connection, *ids)) == 40
    recorder.add(record("one more"))
    with statements.record():
        assert await recorder.flush() == 1
    sent = [" ".join(statement.split()[:3]) for statement in statements.statements]
    assert sent == ["INSERT INTO job_run", "INSERT INTO job_metric_minute"], statements.statements
    assert recorder.written == 41


def record(job_id: str, **fields: Any) -> RunRecord:
    now = int(datetime.now(UTC).timestamp() * 1000)
    values: dict[str, Any] = {
        "job_id": job_id,
        "function": "ops_ok",
        "queue": Queue.short,
        "attempt": 1,
        "status": RunStatus.complete,
        "enqueued_ms": now - 30,
        "started_ms": now - 20,
        "ended_ms": now,
        "duration_ms": 20,
        "wait_ms": 10,
        "worker": "test",
        "args_preview": None,
    }
    return RunRecord(**(values | fields))


async def test_with_postgresql_down_runs_are_kept_bounded_and_written_once_it_answers(
    connection: AsyncConnection,
) -> None:
    down = create_async_engine("postgresql+asyncpg://postgres@127.0.0.1:9/nowhere", poolclass=NullPool)
    recorder = HistoryRecorder(async_sessionmaker(down), flush_seconds=60, max_rows=5)  # type: ignore[arg-type]
    for n in range(8):
        recorder.add(record(f"down-{n}"))
    assert (len(recorder.runs), recorder.dropped) == (5, 3)  # the oldest go first
    assert await recorder.flush() == 0  # refused: kept for the next flush
    assert [run.job_id for run in recorder.runs] == [f"down-{n}" for n in range(3, 8)] and recorder.failing
    assert sum(group.complete for group in recorder.minutes.values()) == 3 * 8  # the minute's, and both "all"
    await down.dispose()

    recorder.session_factory = recorder_on(connection).session_factory  # PostgreSQL is back
    assert await recorder.flush() == 5 and not recorder.failing
    assert len(await runs_of(connection, *(f"down-{n}" for n in range(8)))) == 5
    complete = await connection.scalar(
        text("SELECT sum(complete) FROM job_metric_minute WHERE function = 'ops_ok' AND queue = :q"),
        {"q": Queue.short},
    )
    assert complete == 8  # the metrics lost nothing: they are counts, kept whatever the bound on rows
    await recorder.close()


def test_the_arguments_preview_hides_secret_looking_keys_and_is_bounded() -> None:
    shown = args_preview([1, {"token": "abc"}], {"password": "hunter2", "user": {"api_key": "k", "name": "ann"}})
    assert "hunter2" not in shown and "abc" not in shown and '"k"' not in shown
    assert shown.count(HIDDEN) == 3 and '"name": "ann"' in shown
    long = args_preview(["x" * 10_000], {})
    assert len(long) == ARGS_PREVIEW_CHARS + 1 and long.endswith("…")


async def test_a_cron_run_counts_in_its_function_metrics_and_is_kept_as_a_run_only_when_it_failed(
    connection: AsyncConnection, job_pool: ArqRedis, history_worker: OpsWorker
) -> None:
    await history_worker.sweep()
    runs = await connection.scalar(text("SELECT count(*) FROM job_run WHERE function = 'ops_sweep'"))
    assert runs == 0
    series = (await connection.execute(text("SELECT function, queue, complete FROM job_metric_minute"))).all()
    assert [(row.function, row.complete) for row in series] == [("ops_sweep", 1)]  # not in the "every function" rows

    recorder = recorder_on(connection)
    recorder.add(record("cron:ops_sweep:1", function="ops_sweep", status=RunStatus.failed, cron=True))
    recorder.add(record("cron:ops_sweep:2", function="ops_sweep", cron=True))
    assert await recorder.flush() == 1
    assert [row.job_id for row in await runs_of(connection, "cron:ops_sweep:1", "cron:ops_sweep:2")] == [
        "cron:ops_sweep:1"
    ]


async def sleep_ms(ctx: dict[str, Any], ms: int) -> int:
    await asyncio.sleep(ms / 1000)
    return ms


async def test_the_real_worker_s_minutes_give_run_time_percentiles_failure_rate_and_wait_time(
    connection: AsyncConnection, job_pool: ArqRedis, recorder: HistoryRecorder
) -> None:
    worker = OpsWorker(job_pool, ctx={"job_history": recorder}, functions=[func(sleep_ms), *TEST_FUNCTIONS])
    for _ in range(18):
        await enqueue(job_pool, "sleep_ms", 20)
    await enqueue(job_pool, "sleep_ms", 300)
    await enqueue(job_pool, "sleep_ms", 300)
    await asyncio.sleep(0.4)  # every job waits at least this long before a worker starts
    await worker.run(jobs=100)
    for _ in range(3):
        await enqueue(job_pool, "ops_ok", 1)
    await enqueue(job_pool, "ops_fail", "one in four")
    await worker.run(jobs=100)

    session = ModelSession(bind=connection)
    since = datetime.now(UTC) - timedelta(minutes=5)
    sleeps = await metric_history(session, function="sleep_ms", since=since)
    run, wait = sleeps.overall.run_ms, sleeps.overall.wait_ms
    assert sleeps.overall.complete == 20 and sleeps.overall.failure_rate == 0
    # 18 of 20 ran 20 ms (p50), 2 ran 300 ms (p95: the 19th, p99: the 20th): each read as the upper
    # bound of its bucket, never below the true value, at most a bucket (25%) and the worker's overhead above.
    assert run.p50 is not None and 20 <= run.p50 <= 32, run
    assert run.p95 is not None and run.p99 is not None and 300 <= run.p95 <= run.p99 <= 400, run
    assert wait.p50 is not None and wait.p50 >= 400, wait
    work = await metric_history(session, queue=Queue.short, since=since)
    assert (work.overall.complete, work.overall.failed) == (23, 1)  # every function of the queue
    mixed = await metric_history(session, function="ops_fail", since=since)
    assert mixed.overall.failure_rate == 1.0
    both = await metric_history(session, since=since)
    assert both.overall.failure_rate == pytest.approx(1 / 24)
