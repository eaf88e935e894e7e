"""GET /api/v1/ops/dead-letters (outbox rows given up, failed jobs, failed records) and their
requeue and discard: one, or by a filter, capped and audited; a requeued outbox row is delivered
exactly once by the real sweeper and worker."""

import json
from dataclasses import dataclass

import pytest
from arq import ArqRedis
from httpx import AsyncClient
from sqlmodel import col, select, text
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import flush
from shared.heroes.jobs import BULK_DELETE_HEROES
from shared.jobs import outbox, records
from shared.jobs.after_commit import discard_pending
from shared.jobs.queues import Queue
from shared.jobs.sweepers import sweep_jobs, sweep_outbox
from shared.models.heroes import Hero, TransferLog
from shared.models.jobs import MAX_SWEEPS, OutboxMessage
from shared.models.users import Role
from shared.ops import actions, dead_letter_actions, keys
from tests.api.conftest import SignedIn
from tests.conftest import RunWorker
from tests.ops.conftest import OpsWorker
from tests.shared.factories import make_hero
from tests.support.outbox import transfer_message
from tests.support.queues import enqueue

DEAD_LETTERS = "/api/v1/ops/dead-letters"


@dataclass
class Dead:
    outbox_id: int
    hero_id: int
    job_id: str
    record_id: str


async def make_dead_letters(session: AsyncSession, pool: ArqRedis, worker: OpsWorker) -> Dead:
    """One of each kind, given up at distinct times: the job now, the record 10 min ago, the outbox
    row an hour ago (a row keeps its creation time only)."""
    message, payload = await transfer_message(session)
    assert message.id is not None
    await session.exec(  # type: ignore[call-overload]
        text("UPDATE outbox SET sweeps = :s, created_at = clock_timestamp() - interval '1 hour' WHERE id = :id"),
        params={"s": MAX_SWEEPS, "id": message.id},
    )
    record_id = await records.accept(session, BULK_DELETE_HEROES, {"ids": [1]}, None)
    discard_pending(session)
    await session.exec(  # type: ignore[call-overload]
        text(
            "UPDATE job SET status = 'failed', tries = 5, finished_at = clock_timestamp() - interval '10 minutes',"
            ' error = \'{"type": "GaveUp", "message": "started 5 times"}\' WHERE id = :id'
        ),
        params={"id": record_id},
    )
    await flush(session)
    job_id = await enqueue(pool, "ops_fail", "dead")
    await worker.run(jobs=1)
    return Dead(message.id, payload["hero_id"], job_id, record_id)


async def audit_entries(pool: ArqRedis) -> list[dict[str, object]]:
    return [json.loads(raw) for raw in await pool.lrange(keys.AUDIT, 0, -1)]


async def test_the_dead_letters_of_each_kind_in_one_view_newest_first_and_paged(
    client: AsyncClient,
    login,  # type: ignore[no-untyped-def]
    session: AsyncSession,
    job_pool: ArqRedis,
    ops_worker: OpsWorker,
) -> None:
    operator: SignedIn = await login(Role.operator)
    dead = await make_dead_letters(session, job_pool, ops_worker)
    await enqueue(job_pool, "ops_ok", 1)  # a complete job: not a dead letter
    aborted = await enqueue(job_pool, "ops_ok", 2)  # nor an aborted one (a person stopped it)
    await actions.abort_job(job_pool, aborted, actions.Actor("someone", None))
    await ops_worker.run(jobs=2)
    assert b"CancelledError" in (await job_pool.get(keys.result(aborted)) or b"")
    stopped = await records.accept(session, BULK_DELETE_HEROES, {"ids": [3]}, None)
    discard_pending(session)
    await records.abort(session, stopped, by="someone")
    await flush(session)
    await job_pool.delete(keys.AUDIT)

    seen: list[dict[str, object]] = []
    cursor = None
    for _ in range(4):
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        response = await client.get(DEAD_LETTERS, params=params, headers=operator.headers)
        assert response.status_code == 200, response.text
        seen += response.json()["items"]
        if (cursor := response.json()["next_cursor"]) is None:
            break
    assert [(item["kind"], item["id"]) for item in seen] == [
        ("job", dead.job_id),
        ("record", dead.record_id),
        ("outbox", str(dead.outbox_id)),
    ]
    job, record, row = seen
    assert (job["function"], job["error_type"], job["queue"]) == ("ops_fail", "OpsJobFailed", Queue.short)
    assert (record["function"], record["error_type"], record["tries"]) == (BULK_DELETE_HEROES.name, "GaveUp", 5)
    assert (row["function"], row["tries"]) == ("transfer_audit", MAX_SWEEPS)

    async def listed(**params: object) -> list[str]:
        response = await client.get(DEAD_LETTERS, params=params, headers=operator.headers)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert await listed(kind="outbox") == [str(dead.outbox_id)]
    assert await listed(function="ops_fail") == [dead.job_id]
    assert await listed(function=BULK_DELETE_HEROES.name, kind="record") == [dead.record_id]
    since = record["given_up_at"]
    assert await listed(since=since) == [dead.job_id, dead.record_id]
    assert await listed(until=since) == [str(dead.outbox_id)]
    bad = await client.get(DEAD_LETTERS, params={"cursor": "nonsense"}, headers=operator.headers)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.cursor"
    epoch = await client.get(DEAD_LETTERS, params={"until": "0.5"}, headers=operator.headers)  # a time is ISO text
    assert epoch.status_code == 422 and epoch.json()["errors"][0]["field"] == "query.until"
    refused = await client.post(f"{DEAD_LETTERS}/outbox/{dead.outbox_id}/requeue", headers=operator.headers)
    assert refused.status_code == 403 and await audit_entries(job_pool) == []


async def test_a_requeued_outbox_dead_letter_is_delivered_once_by_the_real_sweeper_and_worker(
    client: AsyncClient,
    login,  # type: ignore[no-untyped-def]
    session: AsyncSession,
    job_pool: ArqRedis,
    ops_worker: OpsWorker,
    run_worker: RunWorker,
    worker_ctx: dict[str, object],
) -> None:
    admin: SignedIn = await login(Role.admin)
    dead = await make_dead_letters(session, job_pool, ops_worker)
    assert (await sweep_outbox(worker_ctx))["waiting"] == 0  # a dead letter: the sweeper leaves it

    response = await client.post(f"{DEAD_LETTERS}/outbox/{dead.outbox_id}/requeue", headers=admin.headers)

    assert response.status_code == 200, response.text
    assert response.json()["acted"] == 1 and response.json()["items"][0]["kind"] == "outbox"
    assert await job_pool.zscore(Queue.short, outbox.job_id_for(dead.outbox_id)) is not None  # sent after COMMIT
    # The sweeper sees it waiting again, but its job is queued: nothing doubled.
    assert await sweep_outbox(worker_ctx) == {"waiting": 1, "enqueued": 0}
    await run_worker(Queue.short)
    assert await sweep_outbox(worker_ctx) == {"waiting": 0, "enqueued": 0}
    await run_worker(Queue.short)

    logs = (await session.exec(select(TransferLog).where(col(TransferLog.hero_id) == dead.hero_id))).all()
    assert [log.outbox_message_id for log in logs] == [dead.outbox_id]
    row = await session.get(OutboxMessage, dead.outbox_id)
    assert row is not None and row.processed_at is not None and row.sweeps == 0
    again = await client.post(f"{DEAD_LETTERS}/outbox/{dead.outbox_id}/requeue", headers=admin.headers)
    assert again.status_code == 409 and again.json()["rule"] == "not_a_dead_letter"
    [entry] = await audit_entries(job_pool)
    assert (entry["action"], entry["job_id"], entry["user"]) == (
        "dead_letter_requeue",
        str(dead.outbox_id),
        admin.user.username,
    )


async def test_discarding_one_of_each_kind(
    client: AsyncClient,
    login,  # type: ignore[no-untyped-def]
    session: AsyncSession,
    job_pool: ArqRedis,
    ops_worker: OpsWorker,
) -> None:
    admin: SignedIn = await login(Role.admin)
    dead = await make_dead_letters(session, job_pool, ops_worker)

    for kind, ident in (("outbox", dead.outbox_id), ("job", dead.job_id), ("record", dead.record_id)):
        response = await client.post(f"{DEAD_LETTERS}/{kind}/{ident}/discard", headers=admin.headers)
        assert response.status_code == 200, response.text
    missing = await client.post(f"{DEAD_LETTERS}/record/{dead.record_id}/discard", headers=admin.headers)
    assert missing.status_code == 404

    assert await session.get(OutboxMessage, dead.outbox_id) is None
    assert await records.read(session, dead.record_id) is None
    assert await job_pool.exists(keys.result(dead.job_id)) == 0
    assert (await client.get(DEAD_LETTERS, headers=admin.headers)).json()["items"] == []
    entries = await audit_entries(job_pool)
    assert [entry["action"] for entry in entries] == ["dead_letter_discard"] * 3
    assert entries[-1]["detail"] == {"kind": "outbox", "count": 1, "topics": {str(dead.outbox_id): "transfer_audit"}}


async def test_a_filter_action_previews_is_capped_and_requeues_each_kind(
    client: AsyncClient,
    login,  # type: ignore[no-untyped-def]
    session: AsyncSession,
    job_pool: ArqRedis,
    ops_worker: OpsWorker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    admin: SignedIn = await login(Role.admin)
    dead = await make_dead_letters(session, job_pool, ops_worker)
    actions = f"{DEAD_LETTERS}/actions"

    preview = await client.post(actions, json={"action": "discard", "dry_run": True}, headers=admin.headers)
    assert preview.status_code == 200, preview.text
    assert (preview.json()["matched"], preview.json()["acted"]) == (3, 0)
    assert len((await client.get(DEAD_LETTERS, headers=admin.headers)).json()["items"]) == 3
    assert await audit_entries(job_pool) == []

    monkeypatch.setattr(dead_letter_actions, "ACTION_CAP", 2)
    first = (await client.post(actions, json={"action": "requeue"}, headers=admin.headers)).json()
    assert (first["matched"], first["acted"], first["capped"], first["remaining"]) == (3, 2, True, 1)
    assert [item["kind"] for item in first["items"]] == ["job", "record"]  # newest first
    second = (await client.post(actions, json={"action": "requeue"}, headers=admin.headers)).json()
    assert (second["matched"], second["acted"], second["capped"]) == (1, 1, False)

    assert await job_pool.zscore(Queue.short, f"{dead.job_id}:retry") is not None
    assert (await records.read(session, dead.record_id)).status == "queued"  # type: ignore[union-attr]
    row = await session.get(OutboxMessage, dead.outbox_id)
    assert row is not None and row.sweeps == 0
    assert (await client.get(DEAD_LETTERS, headers=admin.headers)).json()["items"] == []
    newest, oldest = await audit_entries(job_pool)
    assert newest["detail"]["ids"] == {"outbox": [str(dead.outbox_id)]}  # type: ignore[index]
    assert oldest["detail"]["ids"] == {"job": [dead.job_id], "record": [dead.record_id]}  # type: ignore[index]
    bad = await client.post(actions, json={"action": "resend"}, headers=admin.headers)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "body.action"


async def test_a_requeued_record_runs_once_on_the_real_bulk_worker_and_the_sweeper_sends_nothing_more(
    client: AsyncClient,
    login,  # type: ignore[no-untyped-def]
    session: AsyncSession,
    job_pool: ArqRedis,
    run_worker: RunWorker,
    worker_ctx: dict[str, object],
) -> None:
    admin: SignedIn = await login(Role.admin)
    hero = await make_hero(session)
    record_id = await records.accept(session, BULK_DELETE_HEROES, {"ids": [hero.id]}, None)
    discard_pending(session)  # as if its trigger was lost, and it then failed
    await session.exec(  # type: ignore[call-overload]
        text(
            "UPDATE job SET status = 'failed', finished_at = clock_timestamp(),"
            " created_at = clock_timestamp() - interval '1 hour' WHERE id = :id"
        ),
        params={"id": record_id},
    )
    await session.commit()

    response = await client.post(f"{DEAD_LETTERS}/record/{record_id}/requeue", headers=admin.headers)
    assert response.status_code == 200, response.text
    # Queued again, its trigger sent at COMMIT: the sweeper finds it unfinished but sends no second one.
    assert await sweep_jobs(worker_ctx) == {"unfinished": 1, "enqueued": 0}
    await run_worker(Queue.bulk)
    assert await sweep_jobs(worker_ctx) == {"unfinished": 0, "enqueued": 0}
    await run_worker(Queue.bulk)

    record = await records.read(session, record_id)
    assert record is not None and (record.status, record.tries) == ("complete", 1)
    assert record.result == {"deleted": 1, "missing_ids": []}
    assert await session.get(Hero, hero.id) is None
