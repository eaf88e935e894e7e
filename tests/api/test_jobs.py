"""Job endpoints: admin-only submission (202, a durable record), validation (422), status from
the record, and a job accepted while Redis is down."""

import asyncio
import contextlib
import json
import tracemalloc
from typing import Any

import pytest
from arq import ArqRedis
from fastapi import FastAPI
from httpx import AsyncClient
from sqlmodel import col, func, select, text
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import ClientDisconnect

from shared.heroes.jobs import BULK_UPDATE_HEROES
from shared.jobs.enqueue import enqueue
from shared.jobs.queues import Queue, create_job_pool
from shared.jobs.sweepers import sweep_jobs
from shared.models.heroes import Hero
from shared.models.users import Role
from shared.settings import get_settings
from tests.api.conftest import SignedIn
from tests.conftest import RunWorker, clear_job_keys
from tests.shared.factories import make_hero

BULK_UPDATE = "/api/v1/jobs/heroes/bulk-update"


async def test_a_bulk_update_is_accepted_followed_and_completed(
    client: AsyncClient,
    login,
    session: AsyncSession,
    run_worker: RunWorker,
    job_pool: ArqRedis,  # type: ignore[no-untyped-def]
) -> None:
    admin: SignedIn = await login(Role.admin)
    heroes = [await make_hero(session, age=30, power_level=10) for _ in range(20)]
    items = [{"id": hero.id, "power_level": 55} for hero in heroes]
    response = await client.post(BULK_UPDATE, json={"items": items}, headers=admin.headers)
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["status_url"] == f"/api/v1/jobs/{accepted['job_id']}"

    queued = (await client.get(accepted["status_url"], headers=admin.headers)).json()
    assert queued["status"] == "queued" and queued["function"] == "bulk_update_heroes" and queued["tries"] == 0

    await run_worker(Queue.bulk)
    done = (await client.get(accepted["status_url"], headers=admin.headers)).json()
    assert done["status"] == "complete", done
    assert done["result"] == {"updated": 20, "missing_ids": []}
    assert done["progress"] == {"done": 20, "total": 20} and done["tries"] == 1
    assert done["started_at"] <= done["finished_at"]
    changed = await session.exec(
        select(func.count()).select_from(Hero).where(col(Hero.id).in_([h.id for h in heroes]), Hero.power_level == 55)
    )
    assert changed.one() == 20


async def test_a_failed_job_reports_its_error(
    client: AsyncClient,
    login,
    session: AsyncSession,
    run_worker: RunWorker,
    job_pool: ArqRedis,  # type: ignore[no-untyped-def]
) -> None:
    admin: SignedIn = await login(Role.admin)
    young = await make_hero(session, age=15, power_level=10)
    response = await client.post(
        BULK_UPDATE, json={"items": [{"id": young.id, "power_level": 80}]}, headers=admin.headers
    )
    assert response.status_code == 202
    await run_worker(Queue.bulk)
    failed = (await client.get(response.json()["status_url"], headers=admin.headers)).json()
    assert failed["status"] == "failed"
    assert failed["error"]["type"] == "BulkRefused" and str(young.id) in failed["error"]["message"]
    assert failed["result"] is None


async def test_job_input_is_validated_before_anything_is_enqueued(client: AsyncClient, login) -> None:  # type: ignore[no-untyped-def]
    admin: SignedIn = await login(Role.admin)
    too_many = {"items": [{"id": i, "age": 30} for i in range(1, 100_002)]}
    response = await client.post(BULK_UPDATE, json=too_many, headers=admin.headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.items"
    bad_item = await client.post(BULK_UPDATE, json={"items": [{"id": 1, "age": -3}]}, headers=admin.headers)
    assert bad_item.status_code == 422 and bad_item.json()["errors"][0]["field"] == "body.items.0.age"
    repeated = await client.post(
        BULK_UPDATE, json={"items": [{"id": 1, "age": 3}, {"id": 1, "age": 4}]}, headers=admin.headers
    )
    assert repeated.status_code == 422 and "repeated: [1]" in repeated.text
    both = await client.post(
        "/api/v1/jobs/posts/bulk",
        json={"action": "publish", "ids": [1], "filter": {"author_id": 1}},
        headers=admin.headers,
    )
    assert both.status_code == 422


async def test_jobs_are_for_admins_and_unknown_ids_are_404(client: AsyncClient, login) -> None:  # type: ignore[no-untyped-def]
    author: SignedIn = await login(Role.author)
    admin: SignedIn = await login(Role.admin)
    body = {"ids": [1]}
    assert (await client.post("/api/v1/jobs/heroes/bulk-delete", json=body)).status_code == 401
    assert (await client.post("/api/v1/jobs/heroes/bulk-delete", json=body, headers=author.headers)).status_code == 403
    assert (await client.get("/api/v1/jobs/no-such-job", headers=admin.headers)).status_code == 404


async def test_with_redis_down_a_job_is_still_accepted_and_the_sweeper_runs_it_later(
    app: FastAPI,
    client: AsyncClient,
    login,  # type: ignore[no-untyped-def]
    session: AsyncSession,
    run_worker: RunWorker,
    worker_ctx: dict[str, Any],
    job_pool: ArqRedis,
) -> None:
    """A 202 is a promise kept by PostgreSQL: the record commits with the answer; the trigger
    that Redis could not take is sent by the sweeper once Redis is back."""
    admin: SignedIn = await login(Role.admin)
    hero = await make_hero(session, age=30, power_level=10)
    await session.commit()
    working = app.state.job_pool
    app.state.job_pool = create_job_pool("redis://127.0.0.1:1/0")
    try:
        response = await client.post(BULK_UPDATE, json={"items": [{"id": hero.id, "age": 31}]}, headers=admin.headers)
    finally:
        await app.state.job_pool.aclose()
        app.state.job_pool = working
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    assert await job_pool.zcard(Queue.bulk) == 0  # Redis never heard of it
    queued = (await client.get(f"/api/v1/jobs/{job_id}", headers=admin.headers)).json()
    assert queued["status"] == "queued" and queued["tries"] == 0

    await run_worker(Queue.bulk)  # nothing to run yet
    assert await session.scalar(select(Hero.age).where(Hero.id == hero.id)) == 30
    await session.exec(  # type: ignore[call-overload]
        text("UPDATE job SET created_at = created_at - interval '1 minute' WHERE id = :id"), params={"id": job_id}
    )
    await session.commit()
    swept = await sweep_jobs(worker_ctx)
    assert swept["enqueued"] == 1 and (await sweep_jobs(worker_ctx))["enqueued"] == 0  # queued once
    await run_worker(Queue.bulk)
    done = (await client.get(f"/api/v1/jobs/{job_id}", headers=admin.headers)).json()
    assert done["status"] == "complete" and done["result"] == {"updated": 1, "missing_ids": []}, done
    session.expire_all()
    assert await session.scalar(select(Hero.age).where(Hero.id == hero.id)) == 31
    assert (await sweep_jobs(worker_ctx))["unfinished"] == 0


async def test_a_filter_of_nulls_is_refused_instead_of_selecting_every_post(client: AsyncClient, login) -> None:  # type: ignore[no-untyped-def]
    admin: SignedIn = await login(Role.admin)
    for request in (
        {"action": "delete", "filter": {"author_id": None}},
        {"action": "delete", "filter": {}},
        {"action": "archive", "filter": {"status": None, "category_id": None}},
    ):
        response = await client.post("/api/v1/jobs/posts/bulk", json=request, headers=admin.headers)
        assert response.status_code == 422, request
        assert "non-null condition" in response.text


async def test_job_ids_are_checked_like_row_ids(client: AsyncClient, login) -> None:  # type: ignore[no-untyped-def]
    admin: SignedIn = await login(Role.admin)
    cases = [
        ("/api/v1/jobs/heroes/bulk-delete", {"ids": [0]}, "body.ids.0"),
        ("/api/v1/jobs/heroes/bulk-delete", {"ids": [2**40]}, "body.ids.0"),
        ("/api/v1/jobs/heroes/bulk-update", {"items": [{"id": 1, "team_id": 2**40}]}, "body.items.0.team_id"),
        ("/api/v1/jobs/heroes/bulk-update", {"items": [{"id": 1, "name": "a\u0000b"}]}, "body.items.0.name"),
        ("/api/v1/jobs/posts/bulk", {"action": "publish", "ids": [-5]}, "body.ids.0"),
    ]
    for path, body, field in cases:
        response = await client.post(path, json=body, headers=admin.headers)
        assert response.status_code == 422, (path, body)
        assert field in {error["field"] for error in response.json()["errors"]}, response.json()


def _bulk_scope(path: str, headers: dict[str, str], length: int) -> dict[str, Any]:
    raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(length).encode())]
    raw_headers += [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": raw_headers,
        "client": ("127.0.0.1", 1),
        "server": ("test", 80),
        "state": {},
    }


async def _post_counting_body_reads(app: FastAPI, path: str, headers: dict[str, str]) -> tuple[int, int]:
    """POST `path` straight through the ASGI app with a 31 MB body offered in 1 MiB chunks; the status,
    and how many chunks the app asked for (0: the body was never read)."""
    chunk, chunks = b"x" * 1_048_576, 31
    reads = 0
    status = 0

    async def receive() -> dict[str, object]:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": chunk, "more_body": reads < chunks}

    async def send(message: dict[str, object]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])  # type: ignore[call-overload]

    scope = _bulk_scope(path, headers, chunks * len(chunk))
    await app(scope, receive, send)
    return status, reads


async def test_a_caller_who_may_not_post_a_bulk_job_is_refused_before_the_body_is_read(
    app: FastAPI,
    login,  # type: ignore[no-untyped-def]
) -> None:
    author: SignedIn = await login(Role.author)
    for path in ("/api/v1/jobs/heroes/bulk-update", "/api/v1/jobs/heroes/bulk-delete", "/api/v1/jobs/posts/bulk"):
        assert await _post_counting_body_reads(app, path, {}) == (401, 0)
        assert await _post_counting_body_reads(app, path, {"Authorization": "Bearer not-a-token"}) == (401, 0)
        assert await _post_counting_body_reads(app, path, author.headers) == (403, 0)
    # An admin gets past the gate: the body is read (and, 31 MB of "x", refused as invalid JSON).
    admin: SignedIn = await login(Role.admin)
    status, reads = await _post_counting_body_reads(app, "/api/v1/jobs/heroes/bulk-update", admin.headers)
    assert reads > 0 and status in (400, 422)


async def test_a_jobs_state_outlives_redis_and_the_ops_views_read_the_same_record(
    client: AsyncClient,
    login,  # type: ignore[no-untyped-def]
    session: AsyncSession,
    run_worker: RunWorker,
    job_pool: ArqRedis,
) -> None:
    admin: SignedIn = await login(Role.admin)
    hero = await make_hero(session, age=30, power_level=10)
    await session.commit()
    response = await client.post(BULK_UPDATE, json={"items": [{"id": hero.id, "age": 33}]}, headers=admin.headers)
    job_id = response.json()["job_id"]
    await run_worker(Queue.bulk)
    await clear_job_keys(job_pool)  # Redis restarted empty, or arq's result expired

    status = (await client.get(f"/api/v1/jobs/{job_id}", headers=admin.headers)).json()
    assert status["status"] == "complete" and status["result"] == {"updated": 1, "missing_ids": []}
    detail = (await client.get(f"/api/v1/ops/jobs/{job_id}", headers=admin.headers)).json()
    assert detail["status"] == "complete" and detail["function"] == "bulk_update_heroes"
    assert detail["tries"] == status["tries"] == 1 and '"updated": 1' in detail["result_preview"]
    assert detail["args_preview"] == '{"item_count": 1}'  # the record's arguments (the items are staged apart)


async def test_ops_retry_of_a_failed_bulk_job_runs_its_record_again_under_its_own_id(
    client: AsyncClient,
    login,  # type: ignore[no-untyped-def]
    session: AsyncSession,
    run_worker: RunWorker,
    job_pool: ArqRedis,
) -> None:
    admin: SignedIn = await login(Role.admin)
    young = await make_hero(session, age=15, power_level=10)
    await session.commit()
    response = await client.post(
        BULK_UPDATE, json={"items": [{"id": young.id, "power_level": 80}]}, headers=admin.headers
    )
    job_id = response.json()["job_id"]
    await run_worker(Queue.bulk)
    assert (await client.get(f"/api/v1/jobs/{job_id}", headers=admin.headers)).json()["status"] == "failed"
    not_failed = await client.post("/api/v1/ops/jobs/no-such-job/retry", headers=admin.headers)
    assert not_failed.status_code == 404

    # The cause goes away (the hero grows up); the admin retries.
    await session.exec(text("UPDATE hero SET age = 19 WHERE id = :id"), params={"id": young.id})  # type: ignore[call-overload]
    await session.commit()
    retried = await client.post(f"/api/v1/ops/jobs/{job_id}/retry", headers=admin.headers)
    assert retried.status_code == 202 and retried.json()["new_job_id"] == job_id
    again = await client.post(f"/api/v1/ops/jobs/{job_id}/retry", headers=admin.headers)
    assert again.status_code == 409 and again.json()["rule"] == "job_not_failed"  # queued now
    await run_worker(Queue.bulk)
    done = (await client.get(f"/api/v1/jobs/{job_id}", headers=admin.headers)).json()
    # (tries is not checked here: in this harness the job's sessions share one connection, so the
    # failed run's start, a nested savepoint, rolled back with its work; in production it commits.)
    assert done["status"] == "complete" and done["error"] is None and done["finished_at"] is not None
    session.expire_all()
    assert await session.scalar(select(Hero.power_level).where(Hero.id == young.id)) == 80


async def test_ops_abort_of_a_queued_bulk_job_fails_its_record_and_its_trigger_changes_nothing(
    client: AsyncClient,
    login,  # type: ignore[no-untyped-def]
    session: AsyncSession,
    run_worker: RunWorker,
    worker_ctx: dict[str, Any],
    job_pool: ArqRedis,
) -> None:
    admin: SignedIn = await login(Role.admin)
    hero = await make_hero(session, age=30, power_level=10)
    await session.commit()
    response = await client.post(BULK_UPDATE, json={"items": [{"id": hero.id, "age": 34}]}, headers=admin.headers)
    job_id = response.json()["job_id"]
    aborted = await client.post(f"/api/v1/ops/jobs/{job_id}/abort", headers=admin.headers)
    assert aborted.status_code == 202 and aborted.json()["status"] == "queued"
    await clear_job_keys(job_pool)  # even if the trigger survived the abort (Redis lost the abort mark)...
    await session.exec(  # type: ignore[call-overload]
        text("UPDATE job SET created_at = created_at - interval '1 minute' WHERE id = :id"), params={"id": job_id}
    )
    await session.commit()
    assert (await sweep_jobs(worker_ctx))["enqueued"] == 0  # ...the sweeper never sends it again
    assert await enqueue(job_pool, BULK_UPDATE_HEROES, record_id=job_id)
    await run_worker(Queue.bulk)  # and a stray trigger finds it finished
    state = (await client.get(f"/api/v1/jobs/{job_id}", headers=admin.headers)).json()
    assert state["status"] == "failed" and state["error"] == {
        "type": "Aborted",
        "message": f"aborted by {admin.user.username}",
    }
    session.expire_all()
    assert await session.scalar(select(Hero.age).where(Hero.id == hero.id)) == 30
    finished = await client.post(f"/api/v1/ops/jobs/{job_id}/abort", headers=admin.headers)
    assert finished.status_code == 409


async def test_a_body_with_100_000_bad_items_gets_a_bounded_answer(client: AsyncClient, login) -> None:  # type: ignore[no-untyped-def]
    admin: SignedIn = await login(Role.admin)
    items = [{"id": i, "age": -1} for i in range(1, 100_001)]
    response = await client.post(BULK_UPDATE, json={"items": items}, headers=admin.headers)
    assert response.status_code == 422
    body = response.json()
    assert body["error_count"] == 100_000 and len(body["errors"]) == 100
    assert body["errors"][0]["field"] == "body.items.0.age"
    assert len(response.content) < 50_000  # was 11.5 MB


async def test_bulk_uploads_read_at_once_are_bounded_and_one_more_is_503_before_its_body(
    app: FastAPI,
    login,  # type: ignore[no-untyped-def]
) -> None:
    admin: SignedIn = await login(Role.admin)
    at_once = get_settings().bulk_uploads_at_once
    body = json.dumps({"ids": [1]}).encode()
    release = asyncio.Event()

    async def slow_upload(reading: asyncio.Event) -> int:
        """An upload whose body has not arrived yet: it holds its slot until released, then its
        client goes away. `reading` is set once the app asks for the body (it is past the gate)."""
        status = 0

        async def receive() -> dict[str, object]:
            reading.set()
            await release.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, object]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])  # type: ignore[call-overload]

        with contextlib.suppress(ClientDisconnect):
            await app(_bulk_scope("/api/v1/jobs/heroes/bulk-delete", admin.headers, len(body)), receive, send)
        return status

    held = []
    for _ in range(at_once):  # one at a time through the gate: in this harness requests share one connection
        reading = asyncio.Event()
        held.append(asyncio.create_task(slow_upload(reading)))
        await asyncio.wait_for(reading.wait(), 30)
    try:
        assert await _post_counting_body_reads(app, "/api/v1/jobs/heroes/bulk-delete", admin.headers) == (503, 0)
    finally:
        release.set()
    assert 503 not in await asyncio.gather(*held)  # they were let in; their clients left
    status, reads = await _post_counting_body_reads(app, "/api/v1/jobs/heroes/bulk-update", admin.headers)
    assert reads > 0 and status in (400, 422)  # the slots are free again


@pytest.mark.parametrize("name_length", [0, 100])
async def test_one_bulk_upload_stays_within_its_stated_memory_bound(
    client: AsyncClient,
    login,  # type: ignore[no-untyped-def]
    name_length: int,
) -> None:
    """README, Configuration: one upload peaks at ~64 MiB + 6x its body of Python memory (measured
    65 MiB for 100,000 bare items in 3.4 MiB, 221 MiB for 100,000 items with 100-character names in
    28.5 MiB); BULK_UPLOADS_AT_ONCE bounds how many are read at once."""
    admin: SignedIn = await login(Role.admin)

    def item(i: int) -> dict[str, object]:
        if not name_length:
            return {"id": i, "power_level": 21.0}
        return {"id": i, "name": "n" * name_length, "secret_identity": f"{i:0{name_length}d}", "age": 30}

    body = json.dumps({"items": [item(i) for i in range(1, 100_001)]}).encode()
    headers = {**admin.headers, "Content-Type": "application/json"}
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        response = await client.post(BULK_UPDATE, content=body, headers=headers)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert response.status_code == 202, response.text[:500]
    assert peak < 64 * 2**20 + 6 * len(body), f"{peak / 2**20:.0f} MiB for a {len(body) / 2**20:.1f} MiB body"


async def test_the_ops_views_of_a_bulk_job_answer_from_its_record_while_redis_is_down(
    app: FastAPI,
    client: AsyncClient,
    login,  # type: ignore[no-untyped-def]
    session: AsyncSession,
) -> None:
    admin: SignedIn = await login(Role.admin)
    hero = await make_hero(session, age=30, power_level=10)
    await session.commit()
    response = await client.post(BULK_UPDATE, json={"items": [{"id": hero.id, "age": 35}]}, headers=admin.headers)
    job_id = response.json()["job_id"]
    working = app.state.job_pool
    app.state.job_pool = create_job_pool("redis://127.0.0.1:1/0")
    try:
        detail = await client.get(f"/api/v1/ops/jobs/{job_id}", headers=admin.headers)
        aborted = await client.post(f"/api/v1/ops/jobs/{job_id}/abort", headers=admin.headers)
    finally:
        await app.state.job_pool.aclose()
        app.state.job_pool = working
    assert detail.status_code == 200 and detail.json()["status"] == "queued", detail.text
    assert aborted.status_code == 202 and aborted.json()["status"] == "queued", aborted.text
    state = (await client.get(f"/api/v1/jobs/{job_id}", headers=admin.headers)).json()
    assert state["status"] == "failed" and state["error"]["type"] == "Aborted"
