"""Reading the queues from Redis: jobs in every state, per-function and per-worker telemetry,
bounded Redis work with 100,000 queued jobs, and reads that never change anything."""

import asyncio
import json
import time
import uuid

from arq import ArqRedis
from arq.jobs import serialize_job

from services.worker import telemetry
from shared.jobs.queues import Queue
from shared.jobs.serialization import serialize
from shared.ops import keys
from shared.ops.clock import now_ms
from shared.ops.inspect import read_job_detail, read_summary
from shared.ops.peek import peek_head, peek_tail
from shared.ops.queues import LIST_LIMIT
from shared.ops.schemas import JobStatus, WorkerState
from shared.ops.telemetry import WORKER_NAME, record_outcome
from tests.ops.conftest import GATES, TEST_WORKER, CountingRedis, OpsWorker, snapshot_keys, wait_until
from tests.support.queues import enqueue


async def test_the_summary_shows_jobs_in_every_state(job_pool: ArqRedis, ops_worker: OpsWorker) -> None:
    done = await enqueue(job_pool, "ops_ok", 21)
    failed = await enqueue(job_pool, "ops_fail", "no reason")
    retried = await enqueue(job_pool, "ops_retry")
    await ops_worker.run(jobs=3)

    GATES["every-state"] = gate = asyncio.Event()
    running = await enqueue(job_pool, "ops_wait", "every-state")
    worker_task = asyncio.create_task(ops_worker.build(1).main())
    await wait_until(lambda: job_pool.exists(keys.in_progress(running)))
    await wait_until(lambda: job_pool.zscore(keys.running(Queue.short), running))
    deferred = await enqueue(job_pool, "ops_ok", 1, _defer_by=3600)
    queued = await enqueue(job_pool, "bulk_update_heroes", queue=Queue.bulk, items=[])

    summary = await read_summary(job_pool)
    gate.set()
    await worker_task

    short, bulk = summary.queues
    assert (short.queue, short.ready, short.running) == (Queue.short, 0, 1)
    assert short.deferred == 2  # the deferred job and the one waiting for its retry
    assert {job.id for job in short.next_deferred} == {deferred, retried}
    assert (bulk.ready, bulk.deferred, bulk.running) == (1, 0, 0)
    assert [(job.id, job.function) for job in bulk.waiting] == [(queued, "bulk_update_heroes")]
    assert bulk.oldest_ready_age_seconds is not None and bulk.oldest_ready_age_seconds >= 0

    [in_progress] = summary.running
    assert (in_progress.id, in_progress.function, in_progress.tries) == (running, "ops_wait", 1)
    assert in_progress.progress is not None and (in_progress.progress.done, in_progress.progress.total) == (3, 10)
    assert in_progress.worker and in_progress.running_seconds >= 0

    assert {(job.id, job.status) for job in summary.recent} == {(done, "complete"), (failed, "failed")}
    [failure] = summary.failed
    assert (failure.id, failure.error_type, failure.error_message) == (failed, "OpsJobFailed", "refused: no reason")
    assert failure.duration_ms is not None and failure.finished_at is not None

    by_name = {stats.function: stats for stats in summary.functions}
    assert (by_name["ops_ok"].complete, by_name["ops_fail"].failed, by_name["ops_retry"].retried) == (1, 1, 1)
    assert summary.totals.complete_last_hour == 1 and summary.totals.failed_last_hour == 1
    assert summary.totals.retried_last_hour == 1
    assert summary.totals.ready == 1 and summary.totals.running == 1 and summary.totals.deferred == 2

    detail = await read_job_detail(job_pool, retried)
    assert detail is not None and detail.status == JobStatus.deferred and detail.tries == 1


async def test_function_stats_keep_counts_and_a_duration_histogram(job_pool: ArqRedis, ops_worker: OpsWorker) -> None:
    for value in range(4):
        await enqueue(job_pool, "ops_ok", value)
    await enqueue(job_pool, "ops_fail", "x")
    await ops_worker.run(jobs=5)

    summary = await read_summary(job_pool)
    stats = {s.function: s for s in summary.functions}
    ok = stats["ops_ok"]
    assert (ok.complete, ok.failed, ok.retried, ok.duration_count, ok.queue) == (4, 0, 0, 4, Queue.short)
    assert ok.buckets[-1].le_ms is None and ok.buckets[-1].count == 4  # cumulative: +Inf holds every run
    assert [b.count for b in ok.buckets] == sorted(b.count for b in ok.buckets)
    assert ok.mean_ms is not None and ok.mean_ms == ok.duration_ms_sum / 4
    assert stats["ops_fail"].failed == 1
    assert sum(point.complete for point in summary.throughput) == 4
    assert len(summary.throughput) == 60 and summary.throughput[-1].complete == 4


async def test_a_cron_pass_is_a_sweep_and_does_not_raise_the_done_count(
    job_pool: ArqRedis, ops_worker: OpsWorker
) -> None:
    await enqueue(job_pool, "ops_ok", 1)
    await ops_worker.run(jobs=1)
    await ops_worker.sweep()

    summary = await read_summary(job_pool)
    totals = summary.totals
    assert (totals.complete_last_hour, totals.failed_last_hour, totals.retried_last_hour) == (1, 0, 0)
    assert (totals.sweeps_last_hour, totals.sweeps_failed_last_hour) == (1, 0)
    assert sum(p.complete for p in summary.throughput) == 1 and sum(p.sweeps for p in summary.throughput) == 1
    [worker] = [w for w in summary.workers if w.name == TEST_WORKER]  # the entry of the last, sweeping, run
    assert (worker.complete, worker.failed, worker.retried, worker.sweeps) == (0, 0, 0, 1)
    assert [job.function for job in summary.recent] == ["ops_ok"]  # as before: sweeps are not listed
    stats = {s.function: s for s in summary.functions}
    assert (stats["ops_sweep"].complete, stats["ops_ok"].complete) == (1, 1)  # per function, as any


async def test_a_failed_sweep_counts_as_a_failed_sweep_not_as_a_failed_job(job_pool: ArqRedis) -> None:
    ctx: dict[str, object] = {"redis": job_pool}
    health = await telemetry.start(ctx, Queue.short, name="host-s:3", heartbeat_seconds=5)
    try:
        job_id = f"cron:ops_sweep:{now_ms()}"
        failure = {"t": 1, "f": "cron:ops_sweep", "a": [], "k": {}, "et": now_ms(), "s": False, "st": now_ms()}
        await job_pool.set(keys.result(job_id), json.dumps({**failure, "r": "boom", "ft": now_ms(), "q": "x"}))
        await record_outcome(job_pool, health, job_id, job_try=1, started_ms=now_ms())
    finally:
        await telemetry.stop(ctx)

    totals = (await read_summary(job_pool)).totals
    assert (totals.failed_last_hour, totals.sweeps_last_hour, totals.sweeps_failed_last_hour) == (0, 1, 1)
    assert await job_pool.hget(keys.worker("host-s:3"), "failed") == b"0"
    assert await job_pool.hget(keys.worker("host-s:3"), "sweeps") == b"1"


async def _later_heartbeat(redis: ArqRedis, name: str, than_ms: int) -> bool:
    return int(await redis.hget(keys.worker(name), "heartbeat_ms") or 0) > than_ms


async def test_each_worker_has_its_own_health_entry_and_a_stale_one_shows_as_down(job_pool: ArqRedis) -> None:
    first: dict[str, object] = {"redis": job_pool}
    second: dict[str, object] = {"redis": job_pool}
    await telemetry.start(first, Queue.short, name="host-a:1", heartbeat_seconds=0.1)
    await telemetry.start(second, Queue.bulk, name="host-b:2", heartbeat_seconds=5)
    try:
        # The first one beats again and again (each beat stamps a later time)...
        beats = [int(await job_pool.hget(keys.worker("host-a:1"), "heartbeat_ms") or 0)]
        for _ in range(2):
            await wait_until(lambda: _later_heartbeat(job_pool, "host-a:1", beats[-1]))
            beats.append(int(await job_pool.hget(keys.worker("host-a:1"), "heartbeat_ms") or 0))
        # ...and is read as running as of its latest beat. `now` is given, so a slow machine changes nothing.
        summary = await read_summary(job_pool, now=beats[-1] + 50)
        workers = {w.name: w for w in summary.workers}
        assert workers["host-a:1"].state == WorkerState.running and workers["host-a:1"].queue == Queue.short
        age = workers["host-a:1"].heartbeat_age_seconds
        assert age is not None and age <= 0.05
        assert workers["host-b:2"].queue == Queue.bulk and workers["host-b:2"].pid == 2

        # The second worker dies without a word (its heartbeat task simply stops).
        task = second[telemetry.TELEMETRY].task  # type: ignore[attr-defined]
        task.cancel()
        later = await read_summary(job_pool, now=now_ms() + 16_000)
        states = {w.name: w.state for w in later.workers}
        assert states["host-b:2"] == WorkerState.down
        assert later.totals.workers_down >= 1
    finally:
        await telemetry.stop(first)
        await telemetry.stop(second)
    stopped = {w.name: w.state for w in (await read_summary(job_pool)).workers}
    assert stopped["host-a:1"] == WorkerState.stopped


async def test_job_detail_reads_each_state(job_pool: ArqRedis, ops_worker: OpsWorker) -> None:
    done = await enqueue(job_pool, "ops_ok", 5)
    failed = await enqueue(job_pool, "ops_fail", "bad input")
    await ops_worker.run(jobs=2)
    queued = await enqueue(job_pool, "ops_ok", 7)

    complete = await read_job_detail(job_pool, done)
    assert complete is not None and complete.status == JobStatus.complete
    assert complete.result_preview == '{"doubled": 10}' and complete.args_preview is not None
    assert complete.duration_ms is not None and complete.worker == WORKER_NAME

    failure = await read_job_detail(job_pool, failed)
    assert failure is not None and failure.status == JobStatus.failed and failure.error is not None
    assert failure.error.type == "OpsJobFailed" and failure.error.message == "refused: bad input"
    assert "Traceback" in failure.error.traceback and "ops_fail" in failure.error.traceback

    waiting = await read_job_detail(job_pool, queued)
    assert waiting is not None and waiting.status == JobStatus.queued and waiting.function == "ops_ok"
    assert waiting.args_preview is not None and "7" in waiting.args_preview and waiting.enqueued_at is not None

    # Once arq's result is gone (expired or purged), the failure record still has the traceback.
    await job_pool.delete(keys.result(failed))
    remembered = await read_job_detail(job_pool, failed)
    assert remembered is not None and remembered.error is not None and "OpsJobFailed" in remembered.error.traceback

    assert await read_job_detail(job_pool, "no-such-job") is None


async def test_reading_never_changes_queue_state(job_pool: ArqRedis, ops_worker: OpsWorker) -> None:
    await enqueue(job_pool, "ops_ok", 1)
    failed = await enqueue(job_pool, "ops_fail", "x")
    await ops_worker.run(jobs=2)
    queued = await enqueue(job_pool, "ops_ok", 2)
    await enqueue(job_pool, "ops_ok", 3, _defer_by=600)

    before = await snapshot_keys(job_pool)
    await read_summary(job_pool)
    for job_id in (failed, queued, "missing"):
        await read_job_detail(job_pool, job_id)
    after = await snapshot_keys(job_pool)
    assert before == after


async def test_the_snapshot_sees_content_and_expiry_changes_but_not_hash_field_order(job_pool: ArqRedis) -> None:
    """The check above is only as strong as its snapshot: prove it sees what matters, and only that."""
    key = "guildhall:test:snapshot"
    # Past 64-byte values a hash is a real hash table, whose field order DUMP exposes and reads may change.
    await job_pool.hset(key, mapping={f"f{i}": "x" * 100 for i in range(200)})
    await job_pool.pexpire(key, 600_000)
    before = await snapshot_keys(job_pool)
    for i in range(200):
        await job_pool.hget(key, f"f{i}")
    await asyncio.sleep(0.01)  # time passing is not a change: expiry is compared as an absolute time
    assert await snapshot_keys(job_pool) == before
    await job_pool.pexpire(key, 900_000)
    assert (await snapshot_keys(job_pool))[key.encode()].expires_at_ms != before[key.encode()].expires_at_ms
    await job_pool.pexpire(key, 600_000)
    await job_pool.hset(key, "f0", "y")
    assert (await snapshot_keys(job_pool))[key.encode()].content != before[key.encode()].content


def test_a_job_head_and_tail_name_its_function_try_and_enqueue_time() -> None:
    raw = serialize_job(
        "bulk_update_heroes", (), {"items": [{"id": 1}] * 1000}, None, 1_700_000_000_123, serializer=serialize
    )
    head = peek_head(raw[:256])
    assert (head.function, head.tries) == ("bulk_update_heroes", None)
    assert peek_tail(raw[-32:]) == 1_700_000_000_123
    assert peek_head(b"\x80\x04pickle").function is None and peek_tail(b"garbage") is None


async def fill_queue(redis: ArqRedis, queue: str, ready: int, deferred: int) -> list[str]:
    """arq's own keys for that many jobs, written by pipelines of 5,000 (as enqueue_job would write them)."""
    now = now_ms()
    job_ids: list[str] = []
    payload = serialize_job("ops_ok", (1,), {}, None, now, serializer=serialize)
    for start in range(0, ready + deferred, 5000):
        async with redis.pipeline(transaction=False) as pipe:
            scores: dict[str, int] = {}
            for index in range(start, min(start + 5000, ready + deferred)):
                job_id = uuid.uuid4().hex
                job_ids.append(job_id)
                pipe.psetex(keys.job(job_id), 3_600_000, payload)
                scores[job_id] = now - 1000 - index if index < ready else now + 3_600_000 + index
            pipe.zadd(queue, scores)
            await pipe.execute()
    return job_ids


async def remove_jobs(redis: ArqRedis, queue: str, job_ids: list[str]) -> None:
    for start in range(0, len(job_ids), 10_000):
        await redis.unlink(*[keys.job(job_id) for job_id in job_ids[start : start + 10_000]])
    await redis.unlink(queue)


async def measure(counting_redis: CountingRedis) -> tuple[int, int, float]:
    counting_redis.calls.round_trips = counting_redis.calls.commands = 0
    started = time.perf_counter()
    await read_summary(counting_redis)
    return counting_redis.calls.round_trips, counting_redis.calls.commands, time.perf_counter() - started


async def test_the_summary_sends_the_same_bounded_redis_commands_with_100000_queued_jobs(
    job_pool: ArqRedis, counting_redis: CountingRedis
) -> None:
    small = await fill_queue(job_pool, Queue.bulk, ready=30, deferred=30)
    small_trips, small_commands, small_time = await measure(counting_redis)
    await remove_jobs(job_pool, Queue.bulk, small)

    large = await fill_queue(job_pool, Queue.bulk, ready=60_000, deferred=40_000)
    try:
        large_trips, large_commands, large_time = await measure(counting_redis)
        summary = await read_summary(job_pool)
    finally:
        await remove_jobs(job_pool, Queue.bulk, large)

    print(f"\nops summary: 60 jobs {small_time * 1000:.1f} ms, 100,000 jobs {large_time * 1000:.1f} ms")
    assert (large_trips, large_commands) == (small_trips, small_commands)
    assert large_trips == 2 and large_commands < 250
    assert "KEYS" not in counting_redis.calls.names and "SCAN" not in counting_redis.calls.names
    bulk = summary.queues[1]
    assert (bulk.ready, bulk.deferred) == (60_000, 40_000)
    assert len(bulk.waiting) == LIST_LIMIT and len(bulk.next_deferred) == LIST_LIMIT
    assert bulk.oldest_ready_age_seconds is not None and bulk.oldest_ready_age_seconds > 60
