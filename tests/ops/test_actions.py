"""The admin actions: retry a failed job, abort a queued / deferred / running one, purge results;
each leaves an audit entry naming who did it."""

import asyncio
import json

import pytest
from arq import ArqRedis

from shared.errors import Conflict, NotFound
from shared.jobs import progress
from shared.jobs.queues import Queue
from shared.ops import actions, keys
from shared.ops.inspect import read_job_detail, read_summary
from shared.ops.schemas import JobStatus, PurgeScope
from tests.ops.conftest import GATES, OpsWorker, wait_until
from tests.support.queues import enqueue

ADMIN = actions.Actor(username="ops-admin", user_id=7)


async def audit_entries(pool: ArqRedis) -> list[dict[str, object]]:
    return [json.loads(raw) for raw in await pool.lrange(keys.AUDIT, 0, -1)]


async def test_retrying_a_failed_job_enqueues_the_same_call_under_a_new_id(
    job_pool: ArqRedis, ops_worker: OpsWorker
) -> None:
    failed = await enqueue(job_pool, "ops_fail", "first time")
    await ops_worker.run(jobs=1)

    accepted = await actions.retry_job(job_pool, failed, ADMIN)

    assert accepted.new_job_id != failed and accepted.queue == Queue.short
    retried = await read_job_detail(job_pool, accepted.new_job_id)
    assert retried is not None and retried.status == JobStatus.queued and retried.function == "ops_fail"
    assert retried.args_preview is not None and '"first time"' in retried.args_preview
    assert retried.retry_of == failed
    original = await read_job_detail(job_pool, failed)
    assert original is not None and original.retried_as == accepted.new_job_id
    assert (await read_summary(job_pool)).failed[0].retried_as == accepted.new_job_id
    [entry] = await audit_entries(job_pool)
    assert (entry["action"], entry["user"], entry["user_id"], entry["job_id"]) == ("retry", "ops-admin", 7, failed)
    assert entry["detail"] == {"new_job_id": accepted.new_job_id, "function": "ops_fail", "queue": Queue.short}

    # A second click (or a second admin) gets the same answer, not a second run.
    again = await actions.retry_job(job_pool, failed, ADMIN)
    assert again.new_job_id == accepted.new_job_id
    assert await job_pool.zcard(Queue.short) == 1 and len(await audit_entries(job_pool)) == 1


async def test_only_failed_jobs_with_their_result_can_be_retried(job_pool: ArqRedis, ops_worker: OpsWorker) -> None:
    done = await enqueue(job_pool, "ops_ok", 1)
    failed = await enqueue(job_pool, "ops_fail", "x")
    await ops_worker.run(jobs=2)

    with pytest.raises(Conflict) as not_failed:
        await actions.retry_job(job_pool, done, ADMIN)
    assert not_failed.value.rule == "job_not_failed"
    with pytest.raises(NotFound):
        await actions.retry_job(job_pool, "never-was", ADMIN)
    await job_pool.delete(keys.result(failed))  # as if its result expired: the arguments went with it
    with pytest.raises(Conflict) as expired:
        await actions.retry_job(job_pool, failed, ADMIN)
    assert expired.value.rule == "job_result_expired"
    assert await audit_entries(job_pool) == []


async def test_aborting_a_queued_and_a_deferred_job_fails_them_before_they_run(
    job_pool: ArqRedis, ops_worker: OpsWorker
) -> None:
    queued = await enqueue(job_pool, "ops_ok", 1)
    deferred = await enqueue(job_pool, "ops_ok", 2, _defer_by=3600)

    assert (await actions.abort_job(job_pool, queued, ADMIN)).status == "queued"
    assert (await actions.abort_job(job_pool, deferred, ADMIN)).status == "deferred"
    detail = await read_job_detail(job_pool, queued)
    assert detail is not None and detail.abort_requested
    await ops_worker.run(jobs=2)

    for job_id in (queued, deferred):
        ended = await read_job_detail(job_pool, job_id)
        assert ended is not None and ended.status == JobStatus.failed
        assert ended.error is not None and ended.error.type == "CancelledError"
    assert [entry["action"] for entry in await audit_entries(job_pool)] == ["abort", "abort"]


async def test_aborting_a_running_job_cancels_it(job_pool: ArqRedis, ops_worker: OpsWorker) -> None:
    GATES["abort-me"] = asyncio.Event()  # never set: only the abort ends this job
    running = await enqueue(job_pool, "ops_wait", "abort-me")
    # No burst limit: the worker keeps polling (and so sees the abort) until the queue is empty.
    worker_task = asyncio.create_task(ops_worker.build(-1).main())
    await wait_until(lambda: job_pool.zscore(keys.running(Queue.short), running))

    requested = await actions.abort_job(job_pool, running, ADMIN)
    await asyncio.wait_for(worker_task, 10)

    assert requested.status == "in_progress"
    ended = await read_job_detail(job_pool, running)
    assert ended is not None and ended.status == JobStatus.failed
    assert ended.error is not None and ended.error.type == "CancelledError"
    summary = await read_summary(job_pool)
    assert summary.running == [] and summary.failed[0].id == running


async def test_a_finished_or_unknown_job_cannot_be_aborted(job_pool: ArqRedis, ops_worker: OpsWorker) -> None:
    done = await enqueue(job_pool, "ops_ok", 1)
    await ops_worker.run(jobs=1)
    with pytest.raises(Conflict) as finished:
        await actions.abort_job(job_pool, done, ADMIN)
    assert finished.value.rule == "job_finished"
    with pytest.raises(NotFound):
        await actions.abort_job(job_pool, "never-was", ADMIN)


async def test_purging_complete_results_keeps_the_failed_ones(job_pool: ArqRedis, ops_worker: OpsWorker) -> None:
    done = [await enqueue(job_pool, "ops_ok", value) for value in range(3)]
    failed = await enqueue(job_pool, "ops_fail", "keep me")
    await ops_worker.run(jobs=4)

    purged = await actions.purge_results(job_pool, PurgeScope.complete, ADMIN)

    assert purged.purged == 3
    assert not any([await job_pool.exists(keys.result(job_id)) for job_id in done])
    assert await job_pool.exists(keys.result(failed))
    summary = await read_summary(job_pool)
    assert [job.id for job in summary.recent] == [failed] and [job.id for job in summary.failed] == [failed]

    everything = await actions.purge_results(job_pool, PurgeScope.all, ADMIN)
    assert everything.purged == 1 and not await job_pool.exists(keys.result(failed))
    assert (await read_summary(job_pool)).failed == []
    # The failure record (with its traceback) stays with the job record for its day.
    assert await job_pool.hget(progress.key(failed), "error_type") == b"OpsJobFailed"
    actions_done = [(entry["action"], entry["detail"]) for entry in await audit_entries(job_pool)]
    assert actions_done == [("purge", {"status": "all", "purged": 1}), ("purge", {"status": "complete", "purged": 3})]
