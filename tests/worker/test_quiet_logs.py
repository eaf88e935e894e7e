"""A worker's log at INFO is its work (issue #19): cron sweeps and arq's health line are DEBUG, an
expected refusal is one line, and everything else keeps what arq says (services.worker.logs).

The worker here is the real one (ResilientWorker, with the short queue's own functions and its
production cron jobs, only made to run every second) on the test's connection and Redis index."""

import dataclasses
import logging
from typing import Any

import pytest
from arq import ArqRedis
from arq.worker import Worker
from sqlmodel import text
from sqlmodel.ext.asyncio.session import AsyncSession

from services.worker.context import on_job_start
from services.worker.logs import ARQ_WORKER_LOGGER
from services.worker.main import WorkerSettings
from services.worker.resilient import ResilientWorker
from shared.heroes.jobs import BULK_UPDATE_HEROES
from shared.jobs.queues import Queue
from shared.jobs.serialization import deserialize, serialize
from shared.jobs.sweepers import sweep_outbox
from tests.conftest import RunWorker
from tests.support.bulk import hero_ids, run_job
from tests.support.outbox import enqueue_message, transfer_message

CRON_NAMES = {job.name for job in WorkerSettings.cron_jobs}


async def run_short_worker_with_crons(job_pool: ArqRedis, worker_ctx: dict[str, Any], jobs: int) -> Worker:
    """The short queue's worker, its crons every second (fresh copies: arq keeps a cron's next run on
    it), until `jobs` runs (crons included) have started; arq's health line after every change."""
    cron_jobs = [dataclasses.replace(job, second=None, next_run=None) for job in WorkerSettings.cron_jobs]
    worker = ResilientWorker(
        functions=WorkerSettings.functions,
        cron_jobs=cron_jobs,
        queue_name=Queue.short,
        redis_pool=job_pool,
        burst=True,
        max_burst_jobs=jobs,
        max_jobs=1,  # the jobs share the test's one connection
        poll_delay=0.05,
        handle_signals=False,
        job_serializer=serialize,
        job_deserializer=deserialize,
        ctx={key: value for key, value in worker_ctx.items() if key != "redis"},
        on_job_start=on_job_start,
        health_check_interval=0,
    )
    await worker.main()
    return worker


def arq_lines(caplog: pytest.LogCaptureFixture, *, at_least: int = logging.DEBUG) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == ARQ_WORKER_LOGGER and r.levelno >= at_least]


def mentions_a_cron(record: logging.LogRecord) -> bool:
    """A cron run's start or end line (arq's "→ cron:name()" and "← cron:name ● result")."""
    message = record.getMessage()
    return any(f"→ {name}(" in message or f"← {name} " in message for name in CRON_NAMES)


async def test_cron_sweeps_say_nothing_at_info_while_a_real_job_still_logs(
    caplog: pytest.LogCaptureFixture, job_pool: ArqRedis, worker_ctx: dict[str, Any]
) -> None:
    caplog.set_level(logging.INFO)
    job = await job_pool.enqueue_job("process_transfer_audits", _queue_name=Queue.short)
    assert job is not None

    worker = await run_short_worker_with_crons(job_pool, worker_ctx, jobs=5)

    # arq counts a started job as one of max_burst_jobs: the real job and at least 3 sweeps ran.
    assert worker.jobs_complete >= 4 and worker.jobs_failed == 0
    info = arq_lines(caplog, at_least=logging.INFO)
    assert [r.getMessage() for r in info if mentions_a_cron(r)] == []
    assert [r.getMessage() for r in info if "recording health" in r.getMessage()] == []
    real = [r.getMessage() for r in info if f"{job.job_id}:process_transfer_audits" in r.getMessage()]
    assert len(real) == 2 and "→" in real[0] and "←" in real[1], real  # its start and its end
    # Empty passes (nothing was waiting) say nothing of their own either.
    assert [r.getMessage() for r in caplog.records if r.name.startswith("shared.jobs.sweepers")] == []


async def test_at_debug_the_cron_lines_are_there_as_debug_lines(
    caplog: pytest.LogCaptureFixture, job_pool: ArqRedis, worker_ctx: dict[str, Any]
) -> None:
    caplog.set_level(logging.DEBUG)
    # Every cron is due each second, one runs at a time: three runs per cron leave room for one of
    # them to come round twice before the last has started.
    await run_short_worker_with_crons(job_pool, worker_ctx, jobs=3 * len(CRON_NAMES))

    cron_lines = [r for r in arq_lines(caplog) if mentions_a_cron(r)]
    assert {r.levelname for r in cron_lines} == {"DEBUG"}
    assert {name for name in CRON_NAMES if any(f"→ {name}(" in r.getMessage() for r in cron_lines)} == CRON_NAMES
    health = [r for r in arq_lines(caplog) if r.getMessage().startswith("recording health")]
    assert health and {r.levelname for r in health} == {"DEBUG"}


async def test_a_sweep_that_did_something_says_so_in_one_info_line(
    caplog: pytest.LogCaptureFixture, session: AsyncSession, worker_ctx: dict[str, Any]
) -> None:
    message, _ = await transfer_message(session)
    await session.exec(  # type: ignore[call-overload]
        text("UPDATE outbox SET created_at = created_at - interval '1 minute' WHERE id = :id"),
        params={"id": message.id},
    )
    await session.commit()
    caplog.set_level(logging.INFO)

    swept = await sweep_outbox(worker_ctx)

    lines = [r for r in caplog.records if r.name == "shared.jobs.sweepers"]
    assert [(r.levelname, r.getMessage()) for r in lines] == [
        ("INFO", f"outbox sweep: enqueued {swept['enqueued']} of {swept['waiting']} waiting row(s) again")
    ]
    assert swept["enqueued"] >= 1


async def test_a_refused_bulk_job_logs_one_warning_line_without_a_traceback(
    caplog: pytest.LogCaptureFixture, session: AsyncSession, job_pool: ArqRedis, run_worker: RunWorker
) -> None:
    ids = await hero_ids(session, teams=1, per_team=3)
    await session.exec(text("UPDATE hero SET age = 16 WHERE id = :id"), params={"id": ids[1]})  # type: ignore[call-overload]
    await session.commit()
    caplog.set_level(logging.INFO)

    info, job_id = await run_job(
        session, job_pool, run_worker, BULK_UPDATE_HEROES, items=[{"id": i, "power_level": 90} for i in ids]
    )

    assert not info.success and info.result.type == "BulkRefused"
    [failure] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert (failure.name, failure.levelname, failure.exc_info) == (ARQ_WORKER_LOGGER, "WARNING", None)
    assert f"{job_id}:bulk_update_heroes failed, BulkRefused: " in failure.getMessage()
    assert f"offending hero ids: {ids[1]}" in failure.getMessage()
    assert "\n" not in failure.getMessage()
    assert "Traceback" not in caplog.text


async def test_an_unexpected_failure_keeps_its_traceback(
    caplog: pytest.LogCaptureFixture, session: AsyncSession, job_pool: ArqRedis, run_worker: RunWorker
) -> None:
    message, _ = await transfer_message(session)
    # A payload the handler cannot read: a KeyError, a bug rather than a refusal.
    await session.exec(text("UPDATE outbox SET payload = '{}'::jsonb WHERE id = :id"), params={"id": message.id})  # type: ignore[call-overload]
    await session.commit()
    await enqueue_message(job_pool, message.id)  # type: ignore[arg-type]
    caplog.set_level(logging.INFO)

    await run_worker(Queue.short)

    [failure] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert (failure.name, failure.levelname) == (ARQ_WORKER_LOGGER, "ERROR")
    assert failure.exc_info is not None and isinstance(failure.exc_info[1], KeyError)
    assert "Traceback (most recent call last)" in caplog.text
