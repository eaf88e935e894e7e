"""The cron view: each periodic job's schedule, last run (as the production worker recorded it when
the run ended: outcome, times, error) and next run (arq's schedule), over HTTP and in shared.ops."""

from datetime import UTC, datetime, timedelta
from typing import Any

from arq import ArqRedis
from httpx import AsyncClient

from services.worker.factory import build_worker
from services.worker.main import cron_job
from shared.jobs import registry, schedule
from shared.jobs.queues import Queue
from shared.jobs.spec import CronSpec
from shared.models.users import Role
from shared.ops import keys
from shared.ops.actions import Actor
from shared.ops.crons import read_crons
from shared.ops.pause import pause_queue
from shared.ops.telemetry import WORKER_NAME
from tests.api.conftest import SignedIn
from tests.ops.conftest import OpsJobFailed, shut_down

CRONS = "/api/v1/ops/crons"
FAILING = {"flaky_sweep": True}


async def flaky_sweep(ctx: dict[str, Any]) -> dict[str, int]:
    if FAILING["flaky_sweep"]:
        raise OpsJobFailed("the sweep broke")
    return {"swept": 1}


FLAKY = CronSpec(flaky_sweep, Queue.short, every_seconds=5, timeout_seconds=5)


async def run_cron_once(pool: ArqRedis, spec: CronSpec, ctx: dict[str, Any] | None = None) -> None:
    """The short queue's production worker with this one cron (as the worker builds it: run at
    start-up), in a burst of one run."""
    overrides: dict[str, Any] = {"ctx": ctx} if ctx else {}
    worker = build_worker(
        Queue.short, redis=pool, burst=True, cron_jobs=[cron_job(spec)], max_burst_jobs=1, max_jobs=1, **overrides
    )
    await worker.main()
    await shut_down(worker)
    assert worker.jobs_complete + worker.jobs_failed == 1, worker


async def test_every_periodic_job_is_listed_with_its_schedule_and_next_run_before_any_ran(
    client: AsyncClient,
    login,  # type: ignore[no-untyped-def]
) -> None:
    operator: SignedIn = await login(Role.operator)
    author: SignedIn = await login(Role.author)
    assert (await client.get(CRONS, headers=author.headers)).status_code == 403

    before = datetime.now(UTC)
    response = await client.get(CRONS, headers=operator.headers)
    assert response.status_code == 200, response.text
    listed = {cron["function"]: cron for cron in response.json()["crons"]}
    specs = {spec.function.__qualname__: spec for spec in registry.crons()}
    assert set(listed) == set(specs) >= {"sweep_outbox", "sweep_jobs", "fold_team_stats", "prune_retained"}
    for name, cron in listed.items():
        spec = specs[name]
        assert (cron["queue"], cron["every_seconds"]) == (spec.queue, spec.every_seconds)
        assert cron["timeout_seconds"] == spec.timeout_seconds and not cron["paused"]
        assert cron["last_run"] is None and cron["last_complete_at"] is None and cron["last_failed_at"] is None
        next_run = datetime.fromisoformat(cron["next_run_at"])
        assert before < next_run <= before + timedelta(seconds=spec.every_seconds + 1), (name, next_run)
        assert next_run.second % spec.every_seconds == 0  # at those seconds of the minute, as arq runs it
    assert listed["sweep_outbox"]["schedule"] == "every 5 s"
    assert listed["prune_retained"]["schedule"] == "every minute, at :00"


async def test_a_production_cron_run_by_the_real_worker_is_its_last_run(
    client: AsyncClient,
    login,  # type: ignore[no-untyped-def]
    job_pool: ArqRedis,
    worker_ctx: dict[str, Any],
) -> None:
    [fold] = [spec for spec in registry.crons() if spec.function.__qualname__ == "fold_team_stats"]
    before = datetime.now(UTC)
    await run_cron_once(job_pool, fold, {k: v for k, v in worker_ctx.items() if k != "redis"})
    after = datetime.now(UTC)

    operator: SignedIn = await login(Role.operator)
    listed = {cron["function"]: cron for cron in (await client.get(CRONS, headers=operator.headers)).json()["crons"]}
    run = listed["fold_team_stats"]["last_run"]
    assert run is not None and run["outcome"] == "complete", run
    assert run["job_id"].startswith("cron:fold_team_stats:") and run["worker"] == WORKER_NAME
    started, finished = datetime.fromisoformat(run["started_at"]), datetime.fromisoformat(run["finished_at"])
    assert before - timedelta(seconds=1) <= started <= finished <= after + timedelta(seconds=1)
    assert run["error_type"] is None and run["error_message"] is None
    assert listed["fold_team_stats"]["last_complete_at"] == run["finished_at"]
    assert listed["fold_team_stats"]["last_failed_at"] is None
    assert all(cron["last_run"] is None for name, cron in listed.items() if name != "fold_team_stats")


async def test_a_failed_run_shows_its_error_until_a_run_completes(job_pool: ArqRedis) -> None:
    FAILING["flaky_sweep"] = True
    await run_cron_once(job_pool, FLAKY)
    [view] = (await read_crons(job_pool, [FLAKY])).crons
    assert view.last_run is not None and view.last_run.outcome == "failed"
    assert (view.last_run.error_type, view.last_run.error_message) == ("OpsJobFailed", "the sweep broke")
    assert view.last_failed_at == view.last_run.finished_at and view.last_complete_at is None
    failed_at = view.last_failed_at

    FAILING["flaky_sweep"] = False
    await run_cron_once(job_pool, FLAKY)
    [view] = (await read_crons(job_pool, [FLAKY])).crons
    assert view.last_run is not None and view.last_run.outcome == "complete"
    assert view.last_run.error_type is None and view.last_run.error_message is None
    assert view.last_complete_at == view.last_run.finished_at and view.last_failed_at == failed_at
    assert await job_pool.exists(keys.cron_run("flaky_sweep"))


async def test_a_cron_of_a_paused_queue_says_so_and_keeps_its_next_slot(job_pool: ArqRedis) -> None:
    await pause_queue(job_pool, Queue.short, Actor("pauser", 1))
    now = datetime.now(UTC)
    [view] = (await read_crons(job_pool, [FLAKY], now=int(now.timestamp() * 1000))).crons
    assert view.paused
    # The schedule's next slot still (the paused worker passes it by, and the next after the resume runs).
    assert now < view.next_run_at <= now + timedelta(seconds=5) and view.next_run_at.second % 5 == 0
    assert view.next_run_at == schedule.next_run(FLAKY, now)
