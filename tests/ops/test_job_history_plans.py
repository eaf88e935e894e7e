"""The job history's reads stay flat as job_run grows: each page of the list walks an index in its
order (its filter's, or the list's) and sorts nothing; a job's timeline reads its own index; the
metric history reads only its window's minutes; retention's batches choose their rows by age
through an index."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.jobs import retention
from shared.models.jobs import RunStatus
from shared.ops.history_schemas import RunFilters
from shared.ops.job_runs import attempts_statement, run_page_statement
from shared.ops.metric_history import metric_statement
from shared.schemas import TimeIdPosition
from shared.settings import get_settings
from tests.support.plans import explain

RUNS = 30_000
FUNCTIONS = ["process_outbox_message", "bulk_update_heroes", "bulk_delete_heroes", "sweep_outbox"]


async def fill_runs(session: AsyncSession) -> None:
    await session.exec(  # type: ignore[call-overload]
        text(
            "INSERT INTO job_run (job_id, function, queue, attempt, status, started_at, ended_at, duration_ms,"
            " wait_ms, worker, args_preview, error_type, error_message)"
            " SELECT 'job-' || (g / 2), (CAST(:functions AS text[]))[1 + g % 4],"
            " CASE WHEN g % 4 = 1 THEN 'guildhall:bulk' ELSE 'guildhall:short' END, 1,"
            " CASE WHEN g % 33 = 0 THEN 'failed' WHEN g % 10 = 0 THEN 'retried'"
            " ELSE 'complete' END, now() - g * interval '10 seconds', now() - g * interval '10 seconds', 5, 1, 'w',"
            " '{\"kwargs\": {\"message_id\": ' || g || '}}', CASE WHEN g % 33 = 0 THEN 'Boom' END,"
            " CASE WHEN g % 33 = 0 THEN 'a failure of row ' || g END FROM generate_series(1, :n) g"
        ),
        params={"n": RUNS, "functions": FUNCTIONS},
    )
    await session.exec(text("ANALYZE job_run"))  # type: ignore[call-overload]


@pytest.mark.parametrize(
    ("filters", "index"),
    [
        (RunFilters(), "ix_job_run_ended_at_id"),
        (RunFilters(function="bulk_update_heroes"), "ix_job_run_function_ended_at_id"),
        (RunFilters(queue="guildhall:bulk"), "ix_job_run_queue_ended_at_id"),
        (RunFilters(status=RunStatus.failed), "ix_job_run_status_ended_at_id"),
        (
            RunFilters(since=datetime.now(UTC) - timedelta(days=2), until=datetime.now(UTC) - timedelta(days=1)),
            "ix_job_run_ended_at_id",
        ),
    ],
    ids=["all", "function", "queue", "status", "window"],
)
@pytest.mark.parametrize("deep", [False, True], ids=["first page", "middle page"])
async def test_each_filter_walks_an_index_in_its_order_and_sorts_nothing(
    session: AsyncSession, filters: RunFilters, index: str, deep: bool
) -> None:
    """The filter's own index, or (a value in a quarter of the rows, as here for a function or a
    queue) the list's, read backwards with the filter applied: either stops after the page."""
    await fill_runs(session)
    after = TimeIdPosition(at=datetime.now(UTC) - timedelta(hours=20), id=RUNS // 2) if deep else None
    _, plan = await explain(session, run_page_statement(filters, limit=50, after=after))
    assert index in plan or "Index Scan Backward using ix_job_run_ended_at_id" in plan, plan
    assert "Sort" not in plan, plan
    assert "Seq Scan" not in plan, plan


@pytest.mark.parametrize("with_args", [True, False], ids=["admin", "operator"])
async def test_a_search_reads_the_trigram_indexes(session: AsyncSession, with_args: bool) -> None:
    await fill_runs(session)
    await session.exec(text("SELECT gin_clean_pending_list('ix_job_run_error_message_trgm')"))  # type: ignore[call-overload]
    await session.exec(text("SELECT gin_clean_pending_list('ix_job_run_args_preview_trgm')"))  # type: ignore[call-overload]
    _, plan = await explain(session, run_page_statement(RunFilters(q="row 2970"), limit=50, with_args=with_args))
    assert "ix_job_run_error_message_trgm" in plan, plan
    assert ("ix_job_run_args_preview_trgm" in plan) is with_args, plan  # an operator's search skips the arguments
    assert "Seq Scan" not in plan, plan


async def test_a_job_timeline_reads_its_own_index(session: AsyncSession) -> None:
    await fill_runs(session)
    _, plan = await explain(session, attempts_statement("job-100", limit=100))
    assert "ix_job_run_job_id_id" in plan and "Seq Scan" not in plan and "Sort" not in plan, plan


@pytest.mark.parametrize(("function", "queue"), [(None, None), (None, "guildhall:short"), ("sweep_outbox", None)])
async def test_the_metric_history_reads_only_its_window(
    session: AsyncSession, function: str | None, queue: str | None
) -> None:
    await session.exec(  # type: ignore[call-overload]
        text(
            "INSERT INTO job_metric_minute (function, queue, minute, complete, failed, retried, run_ms_sum,"
            " wait_ms_sum, run_buckets, wait_buckets) SELECT f, q, date_trunc('minute', now()) - m * interval"
            " '1 minute', 1, 0, 0, 1, 1, '{}', '{}' FROM generate_series(0, 1439) m, (VALUES ('*', '*'),"
            " ('*', 'guildhall:short'), ('sweep_outbox', 'guildhall:short'), ('process_outbox_message',"
            " 'guildhall:short')) AS s(f, q)"
        )
    )
    await session.exec(text("ANALYZE job_metric_minute"))  # type: ignore[call-overload]
    now = datetime.now(UTC)
    _, plan = await explain(session, metric_statement(function, queue, now - timedelta(hours=1), now))
    # The primary key, or the minute index with the series filtered: the window's rows, never the table.
    assert "pk_job_metric_minute" in plan or "ix_job_metric_minute_minute" in plan, plan
    assert "Seq Scan" not in plan and "Sort" not in plan, plan


@pytest.mark.parametrize(
    ("rule", "index"),
    [(retention.RULES[3], "ix_job_run_ended_at_id"), (retention.RULES[4], "ix_job_metric_minute_minute")],
    ids=["job_run", "job_metric_minute"],
)
async def test_retention_chooses_each_batch_by_age_through_an_index(
    session: AsyncSession, rule: retention.Retention, index: str
) -> None:
    await fill_runs(session)
    _, plan = await explain(session, rule.batch_delete(get_settings()))
    assert index in plan and "Seq Scan" not in plan, plan
