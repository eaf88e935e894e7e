"""Job endpoints: admin-only submission (202), validation (422), status from Redis, and 503."""

from arq import ArqRedis
from fastapi import FastAPI
from httpx import AsyncClient
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.jobs.queues import Queue, create_job_pool
from shared.models import Hero, Role
from tests.api.conftest import Caller
from tests.conftest import RunWorker
from tests.shared.factories import make_hero

BULK_UPDATE = "/api/v1/jobs/heroes/bulk-update"


async def test_a_bulk_update_is_accepted_followed_and_completed(
    client: AsyncClient,
    login,
    session: AsyncSession,
    run_worker: RunWorker,
    job_pool: ArqRedis,  # type: ignore[no-untyped-def]
) -> None:
    admin: Caller = await login(Role.admin)
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
    admin: Caller = await login(Role.admin)
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
    admin: Caller = await login(Role.admin)
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
    author: Caller = await login(Role.author)
    admin: Caller = await login(Role.admin)
    body = {"ids": [1]}
    assert (await client.post("/api/v1/jobs/heroes/bulk-delete", json=body)).status_code == 401
    assert (await client.post("/api/v1/jobs/heroes/bulk-delete", json=body, headers=author.headers)).status_code == 403
    assert (await client.get("/api/v1/jobs/no-such-job", headers=admin.headers)).status_code == 404


async def test_redis_down_is_503_and_nothing_is_accepted(app: FastAPI, client: AsyncClient, login) -> None:  # type: ignore[no-untyped-def]
    admin: Caller = await login(Role.admin)
    working = app.state.job_pool
    app.state.job_pool = create_job_pool("redis://127.0.0.1:1/0")
    try:
        response = await client.post("/api/v1/jobs/heroes/bulk-delete", json={"ids": [1]}, headers=admin.headers)
    finally:
        await app.state.job_pool.aclose()
        app.state.job_pool = working
    assert response.status_code == 503
    assert "nothing was enqueued" in response.json()["detail"]


async def test_a_filter_of_nulls_is_refused_instead_of_selecting_every_post(client: AsyncClient, login) -> None:  # type: ignore[no-untyped-def]
    admin: Caller = await login(Role.admin)
    for request in (
        {"action": "delete", "filter": {"author_id": None}},
        {"action": "delete", "filter": {}},
        {"action": "archive", "filter": {"status": None, "category_id": None}},
    ):
        response = await client.post("/api/v1/jobs/posts/bulk", json=request, headers=admin.headers)
        assert response.status_code == 422, request
        assert "non-null condition" in response.text


async def test_job_ids_are_checked_like_row_ids(client: AsyncClient, login) -> None:  # type: ignore[no-untyped-def]
    admin: Caller = await login(Role.admin)
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

    raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(chunks * len(chunk)).encode())]
    raw_headers += [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    scope = {
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
    await app(scope, receive, send)
    return status, reads


async def test_a_caller_who_may_not_post_a_bulk_job_is_refused_before_the_body_is_read(
    app: FastAPI,
    login,  # type: ignore[no-untyped-def]
) -> None:
    author: Caller = await login(Role.author)
    for path in ("/api/v1/jobs/heroes/bulk-update", "/api/v1/jobs/heroes/bulk-delete", "/api/v1/jobs/posts/bulk"):
        assert await _post_counting_body_reads(app, path, {}) == (401, 0)
        assert await _post_counting_body_reads(app, path, {"Authorization": "Bearer not-a-token"}) == (401, 0)
        assert await _post_counting_body_reads(app, path, author.headers) == (403, 0)
    # An admin gets past the gate: the body is read (and, 31 MB of "x", refused as invalid JSON).
    admin: Caller = await login(Role.admin)
    status, reads = await _post_counting_body_reads(app, "/api/v1/jobs/heroes/bulk-update", admin.headers)
    assert reads > 0 and status in (400, 422)
