"""Pausing a queue, with the production worker (services.worker.factory.build_worker) on real Redis:
a paused queue's workers claim nothing (a running job finishes), skip their crons, stay healthy,
and a new worker (a restart) reads the pause; a resume lets them run the job."""

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from arq import ArqRedis, cron
from arq.cron import CronJob

from services.worker.factory import build_worker
from services.worker.resilient import ResilientWorker
from shared.jobs.queues import Queue
from shared.ops import keys
from shared.ops.actions import Actor
from shared.ops.clock import now_ms
from shared.ops.pause import pause_queue, resume_queue
from tests.ops.conftest import GATES, TEST_FUNCTIONS, OpsWorker, ops_sweep, shut_down, wait_until
from tests.support.queues import enqueue

ADMIN = Actor(username="pauser", user_id=7)


@asynccontextmanager
async def polling_worker(pool: ArqRedis, *, cron_jobs: tuple[CronJob, ...] = ()) -> AsyncIterator[ResilientWorker]:
    """The short queue's production worker, polling (not in burst mode) every 20 ms until the block ends."""
    worker = build_worker(
        Queue.short,
        redis=pool,
        functions=TEST_FUNCTIONS,
        cron_jobs=cron_jobs,
        max_jobs=10,
        poll_delay=0.02,
        keep_result=3600,
        handle_signals=False,
    )
    task = asyncio.create_task(worker.main())
    try:
        yield worker
    finally:
        for job in worker.tasks.values():  # a job still waiting on a gate after a failed assertion
            job.cancel()
        await stop(task)
        await asyncio.gather(*worker.tasks.values(), return_exceptions=True)
        await shut_down(worker)


async def stop(task: "asyncio.Task[None]", *, attempts: int = 20) -> None:
    """Cancel the worker's main task until it ends. Once: a cancellation that lands as one of the
    Redis client's own timeouts expires can be taken for that timeout and lost, and the worker
    then ran on (a hang seen once in about ten runs of this file); a bound, so a worker that
    will not stop fails the test instead of hanging the suite."""
    for _ in range(attempts):
        task.cancel()
        done, _pending = await asyncio.wait({task}, timeout=0.5)
        if done:
            return
    raise AssertionError(f"the worker's main task did not stop after {attempts} cancellations")


async def polls_seen_paused(worker: ResilientWorker, more: int) -> None:
    """Until the worker has polled `more` times more and found its queue paused each time."""
    seen = worker.paused_polls

    async def polled() -> bool:
        return worker.paused_polls >= seen + more

    await wait_until(polled)


async def result_of(pool: ArqRedis, job_id: str) -> dict[str, Any] | None:
    raw = await pool.get(keys.result(job_id))
    return json.loads(raw) if raw else None


async def test_a_paused_queue_lets_its_running_job_finish_claims_nothing_and_runs_it_once_resumed(
    job_pool: ArqRedis,
) -> None:
    GATES["pause"] = gate = asyncio.Event()
    running = await enqueue(job_pool, "ops_wait", "pause")
    async with polling_worker(job_pool) as worker:
        await wait_until(lambda: job_pool.exists(keys.in_progress(running)))

        state = await pause_queue(job_pool, Queue.short, ADMIN)
        assert state.changed and state.paused and state.paused_by == "pauser"
        waiting = await enqueue(job_pool, "ops_ok", 21)
        await polls_seen_paused(worker, 5)
        # Not claimed: no lease, no result, still in the queue; the running job still runs.
        assert not await job_pool.exists(keys.in_progress(waiting))
        assert await job_pool.zscore(Queue.short, waiting) is not None
        assert await result_of(job_pool, waiting) is None
        assert worker.job_counter == 1

        gate.set()  # the running job finishes while the queue is paused
        await wait_until(lambda: result_of(job_pool, running))
        assert (await result_of(job_pool, running) or {})["s"] is True
        await polls_seen_paused(worker, 5)
        assert await result_of(job_pool, waiting) is None and worker.jobs_complete == 1
        # Alive and healthy meanwhile: arq's health line and its own heartbeat entry.
        assert await job_pool.exists(f"{Queue.short}:health-check")
        assert await job_pool.hget(keys.worker(worker.ctx["telemetry"].name), "state") == b"running"

        resumed = await resume_queue(job_pool, Queue.short, ADMIN)
        assert resumed.changed and not resumed.paused
        await wait_until(lambda: result_of(job_pool, waiting))
        assert (await result_of(job_pool, waiting) or {})["r"] == {"doubled": 42}
        assert worker.paused is False


async def test_a_pause_outlives_its_workers_a_new_worker_claims_nothing_until_resumed(
    job_pool: ArqRedis, ops_worker: OpsWorker
) -> None:
    await pause_queue(job_pool, Queue.short, ADMIN)
    job_id = await enqueue(job_pool, "ops_ok", 5)
    for _restart in range(2):  # each a new worker process's worker: the pause is read from Redis
        worker = await ops_worker.run(jobs=1)
        assert worker.paused and worker.paused_polls >= 1 and worker.jobs_complete == 0
        assert await result_of(job_pool, job_id) is None
        assert await job_pool.zscore(Queue.short, job_id) is not None
    # Another queue's workers are not paused by it.
    assert not await job_pool.exists(keys.paused(Queue.bulk))

    await resume_queue(job_pool, Queue.short, ADMIN)
    worker = await ops_worker.run(jobs=1)
    assert not worker.paused and worker.jobs_complete == 1
    assert (await result_of(job_pool, job_id) or {})["r"] == {"doubled": 10}


async def test_a_paused_queue_skips_its_cron_runs_and_runs_the_next_slot_after_the_resume(job_pool: ArqRedis) -> None:
    """Skipped, not queued: queued runs would pile up (one per slot) and all run at the resume, and
    a sweeper must not count sweeps of outbox rows no worker may take (they would turn dead letters)."""
    await pause_queue(job_pool, Queue.short, ADMIN)
    every_second = cron(ops_sweep, second=set(range(60)), run_at_startup=True, unique=True, keep_result=60)
    async with polling_worker(job_pool, cron_jobs=(every_second,)) as worker:
        await polls_seen_paused(worker, 3)
        await asyncio.sleep(1.2)  # at least one slot of the schedule passes while paused
        assert await job_pool.zcard(Queue.short) == 0  # no run was queued
        assert not await job_pool.exists(keys.cron_run("ops_sweep"))

        resumed_at = now_ms()
        assert (await resume_queue(job_pool, Queue.short, ADMIN)).changed
        await wait_until(lambda: job_pool.exists(keys.cron_run("ops_sweep")), within=5)
    run_ids = [key.decode().removeprefix(keys.RESULT_PREFIX) async for key in job_pool.scan_iter("arq:result:cron:*")]
    assert run_ids, "a cron run after the resume"
    # Every run is of a slot after the resume (at most arq's one-second look-ahead before it): none caught up.
    assert all(int(run_id.rsplit(":", 1)[1]) > resumed_at - 1000 for run_id in run_ids), (run_ids, resumed_at)
