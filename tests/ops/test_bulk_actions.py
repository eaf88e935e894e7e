"""POST /api/v1/ops/jobs/actions: retry, abort and discard of many jobs, by ids or by a filter, with
a dry run, a cap and one audit entry per action; on the real worker, Redis and PostgreSQL."""

import json

import pytest
from arq import ArqRedis
from httpx import AsyncClient
from sqlmodel import text
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import flush
from shared.heroes.jobs import BULK_DELETE_HEROES
from shared.jobs import records
from shared.jobs.after_commit import discard_pending
from shared.models.users import Role
from shared.ops import bulk_actions, bulk_jobs, keys
from tests.api.conftest import SignedIn
from tests.ops.conftest import CountingRedis, OpsWorker, snapshot_keys
from tests.support.queues import enqueue

ACTIONS = "/api/v1/ops/jobs/actions"


async def failed_jobs(pool: ArqRedis, worker: OpsWorker, count: int) -> list[str]:
    job_ids = [await enqueue(pool, "ops_fail", f"reason {n}") for n in range(count)]
    await worker.run(jobs=count)
    return job_ids


async def audit_entries(pool: ArqRedis) -> list[dict[str, object]]:
    return [json.loads(raw) for raw in await pool.lrange(keys.AUDIT, 0, -1)]


async def test_a_dry_run_counts_what_a_filter_matches_and_changes_nothing(
    client: AsyncClient,
    login,  # type: ignore[no-untyped-def]
    job_pool: ArqRedis,
    ops_worker: OpsWorker,
) -> None:
    admin: SignedIn = await login(Role.admin)
    failed = await failed_jobs(job_pool, ops_worker, 3)
    await enqueue(job_pool, "ops_ok", 1)  # queued: not failed, not matched
    before = await snapshot_keys(job_pool)

    body = {"action": "retry", "filter": {"function": "ops_fail", "status": "failed"}, "dry_run": True}
    response = await client.post(ACTIONS, json=body, headers=admin.headers)

    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["matched"], answer["acted"], answer["capped"], answer["remaining"]) == (3, 0, False, 0)
    assert sorted(item["id"] for item in answer["items"]) == sorted(failed)
    assert {item["outcome"] for item in answer["items"]} == {"ok"}
    assert await snapshot_keys(job_pool) == before  # no retry enqueued, no audit entry, nothing


async def test_retrying_several_failed_jobs_runs_them_and_says_why_not_for_the_others(
    client: AsyncClient,
    login,  # type: ignore[no-untyped-def]
    job_pool: ArqRedis,
    ops_worker: OpsWorker,
) -> None:
    admin: SignedIn = await login(Role.admin)
    failed = await failed_jobs(job_pool, ops_worker, 2)
    done = await enqueue(job_pool, "ops_ok", 4)
    await ops_worker.run(jobs=1)

    body = {"action": "retry", "ids": [*failed, done, "never-was", failed[0]]}
    response = await client.post(ACTIONS, json=body, headers=admin.headers)

    assert response.status_code == 200, response.text
    answer = response.json()
    outcomes = {item["id"]: (item["outcome"], item["reason"], item["new_job_id"]) for item in answer["items"]}
    assert outcomes == {
        failed[0]: ("ok", "retried", f"{failed[0]}:retry"),
        failed[1]: ("ok", "retried", f"{failed[1]}:retry"),
        done: ("conflict", "job_not_failed", None),
        "never-was": ("not_found", None, None),
    }
    assert (answer["matched"], answer["acted"]) == (4, 2)  # a repeated id counts once
    [entry] = await audit_entries(job_pool)
    assert (entry["action"], entry["user"], entry["job_id"]) == ("bulk_retry", admin.user.username, None)
    assert entry["detail"] == {"count": 2, "matched": 4, "remaining": 0, "ids": failed}

    await ops_worker.run(jobs=2)  # the retries ran (and failed again: ops_fail always does)
    for job_id in failed:
        result = json.loads(await job_pool.get(keys.result(f"{job_id}:retry")) or b"{}")
        assert result["f"] == "ops_fail" and result["s"] is False and result["a"] == [f"reason {failed.index(job_id)}"]
    # Again: the same answer, no second run.
    again = (await client.post(ACTIONS, json={"action": "retry", "ids": failed}, headers=admin.headers)).json()
    assert [item["reason"] for item in again["items"]] == ["retried before", "retried before"]
    assert await job_pool.zcard("guildhall:short") == 0


async def test_aborting_the_queued_jobs_a_filter_matches_fails_them_before_they_run(
    client: AsyncClient,
    login,  # type: ignore[no-untyped-def]
    job_pool: ArqRedis,
    ops_worker: OpsWorker,
) -> None:
    admin: SignedIn = await login(Role.admin)
    queued = [await enqueue(job_pool, "ops_ok", n) for n in range(3)]
    other = await enqueue(job_pool, "ops_fail", "not this function")
    deferred = await enqueue(job_pool, "ops_ok", 9, _defer_by=3600)

    body = {"action": "abort", "filter": {"function": "ops_ok", "status": "queued", "queue": "guildhall:short"}}
    answer = (await client.post(ACTIONS, json=body, headers=admin.headers)).json()

    assert sorted(item["id"] for item in answer["items"]) == sorted(queued), answer
    assert answer["acted"] == 3
    await ops_worker.run(jobs=4)
    for job_id in queued:
        result = json.loads(await job_pool.get(keys.result(job_id)) or b"{}")
        assert result["s"] is False and "CancelledError" in json.dumps(result["r"]), result
    assert json.loads(await job_pool.get(keys.result(other)) or b"{}")["f"] == "ops_fail"  # ran, not aborted
    assert await job_pool.zscore("guildhall:short", deferred) is not None  # still deferred
    [entry] = await audit_entries(job_pool)
    assert entry["action"] == "bulk_abort" and entry["detail"]["filter"] == body["filter"]  # type: ignore[index]


async def test_discard_forgets_finished_jobs_and_refuses_unfinished_ones(
    client: AsyncClient,
    login,  # type: ignore[no-untyped-def]
    job_pool: ArqRedis,
    ops_worker: OpsWorker,
) -> None:
    admin: SignedIn = await login(Role.admin)
    failed = await failed_jobs(job_pool, ops_worker, 2)
    waiting = await enqueue(job_pool, "ops_ok", 1)

    answer = (
        await client.post(ACTIONS, json={"action": "discard", "ids": [*failed, waiting]}, headers=admin.headers)
    ).json()

    assert [(item["outcome"], item["reason"]) for item in answer["items"]] == [
        ("ok", "discarded"),
        ("ok", "discarded"),
        ("conflict", "job_not_finished"),
    ]
    for job_id in failed:
        assert await job_pool.exists(keys.result(job_id), f"guildhall:job:{job_id}") == 0
    listed = [json.loads(raw)["id"] for raw in await job_pool.lrange(keys.RECENT_FAILED, 0, -1)]
    assert not set(listed) & set(failed)
    assert (await client.get(f"/api/v1/ops/jobs/{failed[0]}", headers=admin.headers)).status_code == 404
    assert await job_pool.zscore("guildhall:short", waiting) is not None


async def test_a_filter_acts_on_at_most_the_cap_and_says_how_many_remain(
    client: AsyncClient,
    login,  # type: ignore[no-untyped-def]
    job_pool: ArqRedis,
    ops_worker: OpsWorker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    admin: SignedIn = await login(Role.admin)
    monkeypatch.setattr(bulk_actions, "ACTION_CAP", 2)
    failed = await failed_jobs(job_pool, ops_worker, 3)
    body = {"action": "retry", "filter": {"status": "failed"}}

    first = (await client.post(ACTIONS, json=body, headers=admin.headers)).json()
    second = (await client.post(ACTIONS, json=body, headers=admin.headers)).json()
    third = (await client.post(ACTIONS, json=body, headers=admin.headers)).json()

    assert (first["matched"], first["acted"], first["capped"], first["remaining"]) == (3, 2, True, 1)
    assert (second["matched"], second["acted"], second["capped"], second["remaining"]) == (1, 1, False, 0)
    assert third["matched"] == third["acted"] == 0
    acted = [item["id"] for answer in (first, second) for item in answer["items"]]
    assert sorted(acted) == sorted(failed)
    assert [entry["detail"]["count"] for entry in await audit_entries(job_pool)] == [1, 2]  # type: ignore[index]


async def test_recorded_jobs_are_retried_and_aborted_on_their_records(
    client: AsyncClient,
    login,  # type: ignore[no-untyped-def]
    session: AsyncSession,
    job_pool: ArqRedis,
) -> None:
    admin: SignedIn = await login(Role.admin)
    failed = await records.accept(session, BULK_DELETE_HEROES, {"ids": [1]}, None)
    queued = await records.accept(session, BULK_DELETE_HEROES, {"ids": [2]}, None)
    discard_pending(session)
    await session.exec(  # type: ignore[call-overload]
        text("UPDATE job SET status = 'failed', finished_at = now(), error = '{\"type\": \"X\"}' WHERE id = :id"),
        params={"id": failed},
    )
    await flush(session)

    retried = (
        await client.post(ACTIONS, json={"action": "retry", "ids": [failed, queued]}, headers=admin.headers)
    ).json()
    aborted = (
        await client.post(ACTIONS, json={"action": "abort", "filter": {"status": "queued"}}, headers=admin.headers)
    ).json()

    assert [(i["outcome"], i["reason"]) for i in retried["items"]] == [
        ("ok", "requeued"),
        ("conflict", "job_not_failed"),
    ]
    assert retried["items"][0]["new_job_id"] == failed
    assert await job_pool.zscore(BULK_DELETE_HEROES.queue, failed) is not None  # its trigger, after COMMIT
    assert sorted(i["id"] for i in aborted["items"]) == sorted([failed, queued])
    assert {(await records.read(session, job_id)).status for job_id in (failed, queued)} == {"failed"}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "restart", "ids": ["a"]}, "body.action"),
        ({"action": "retry", "ids": ["a"], "filter": {}}, "body.filter"),
        ({"action": "retry"}, "body.filter"),
        ({"action": "retry", "ids": [f"j{n}" for n in range(1001)]}, "body.ids"),
        ({"action": "abort", "filter": {"status": "failed"}}, "body.filter"),
        ({"action": "retry", "filter": {"queue": "elsewhere"}}, "body.filter.queue"),
    ],
)
async def test_bad_input_is_422_naming_the_field_and_changes_nothing(
    client: AsyncClient,
    login,  # type: ignore[no-untyped-def]
    job_pool: ArqRedis,
    body: dict[str, object],
    field: str,
) -> None:
    admin: SignedIn = await login(Role.admin)
    response = await client.post(ACTIONS, json=body, headers=admin.headers)
    assert response.status_code == 422, response.text
    assert [error["field"] for error in response.json()["errors"]] == [field]
    assert await audit_entries(job_pool) == []


async def test_an_operator_is_refused_and_nothing_changes(
    client: AsyncClient,
    login,  # type: ignore[no-untyped-def]
    job_pool: ArqRedis,
) -> None:
    operator: SignedIn = await login(Role.operator)
    queued = await enqueue(job_pool, "ops_ok", 1)
    response = await client.post(ACTIONS, json={"action": "abort", "ids": [queued]}, headers=operator.headers)
    assert response.status_code == 403 and response.json()["detail"] == "this needs the role admin"
    assert await job_pool.zscore(keys.ABORT_SET, queued) is None


async def test_the_reads_of_a_bulk_action_are_one_round_trip_whatever_the_number_of_jobs(
    job_pool: ArqRedis, ops_worker: OpsWorker, counting_redis: CountingRedis
) -> None:
    failed = await failed_jobs(job_pool, ops_worker, 3)
    queued = [await enqueue(job_pool, "ops_ok", n) for n in range(40)]
    trips = []
    for action, ids in (
        (bulk_jobs.retry_jobs, failed[:1]),
        (bulk_jobs.retry_jobs, failed),
        (bulk_jobs.abort_jobs, queued[:1]),
        (bulk_jobs.abort_jobs, queued),
        (bulk_jobs.discard_jobs, failed[:1]),
        (bulk_jobs.discard_jobs, [*failed, *queued]),
    ):
        counting_redis.calls.round_trips = 0
        outcomes = await action(counting_redis, ids, dry_run=True)
        assert len(outcomes) == len(ids)
        trips.append(counting_redis.calls.round_trips)
    assert trips == [1, 1, 1, 1, 1, 1]
    counting_redis.calls.round_trips = 0
    await bulk_jobs.abort_jobs(counting_redis, queued, dry_run=False)
    assert counting_redis.calls.round_trips == 2  # the reads, then every abort in one MULTI
    assert await job_pool.zcard(keys.ABORT_SET) == len(queued)
