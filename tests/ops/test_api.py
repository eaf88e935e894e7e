"""The ops HTTP interfaces: /api/v1/ops JSON (operators read, admins act: tests/ops/test_operator.py),
the /ops page, /metrics and its access settings."""

import asyncio
import re
from collections.abc import AsyncIterator

import pytest
from arq import ArqRedis
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncConnection, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api import metrics
from services.api.main import STATIC_DIR, create_app
from shared.db import flush
from shared.heroes.jobs import BULK_DELETE_HEROES
from shared.jobs import records
from shared.jobs.after_commit import discard_pending
from shared.jobs.queues import Queue
from shared.models.jobs import OutboxMessage, OutboxTopic
from shared.models.users import Role
from shared.settings import Settings, get_settings
from tests.api.conftest import SignedIn
from tests.conftest import StatementLog
from tests.ops.conftest import OpsWorker
from tests.support.network import free_port
from tests.support.queues import enqueue

QUEUES = "/api/v1/ops/queues"


async def failed_job(pool: ArqRedis, worker: OpsWorker, reason: str = "api test") -> str:
    job_id = await enqueue(pool, "ops_fail", reason)
    await worker.run(jobs=1)
    return job_id


async def test_the_ops_views_and_actions_refuse_a_moderator(client: AsyncClient, login) -> None:  # type: ignore[no-untyped-def]
    moderator: SignedIn = await login(Role.moderator)
    for method, path in [
        ("GET", QUEUES),
        ("GET", "/api/v1/ops/jobs/abc"),
        ("POST", "/api/v1/ops/jobs/abc/retry"),
        ("POST", "/api/v1/ops/jobs/abc/abort"),
        ("POST", "/api/v1/ops/results/purge"),
    ]:
        anonymous = await client.request(method, path, json={})
        assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Bearer"
        refused = await client.request(method, path, json={}, headers=moderator.headers)
        assert refused.status_code == 403, (path, refused.text)


async def test_the_queue_summary_answers_with_the_outbox_backlog_and_the_unfinished_bulk_jobs(
    client: AsyncClient,
    login,  # type: ignore[no-untyped-def]
    session: AsyncSession,
    job_pool: ArqRedis,
    ops_worker: OpsWorker,
) -> None:
    admin: SignedIn = await login(Role.admin)
    failed = await failed_job(job_pool, ops_worker)
    await enqueue(job_pool, "ops_ok", 3)
    session.add_all([OutboxMessage(topic=OutboxTopic.transfer_audit, payload={"n": n}) for n in range(2)])
    await flush(session)
    await records.accept(session, BULK_DELETE_HEROES, {"ids": [1]}, None)
    discard_pending(session)  # the record alone: whether its trigger reached Redis is not the point here
    await flush(session)

    response = await client.get(QUEUES, headers=admin.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["outbox"]["waiting"] >= 2 and body["outbox"]["oldest_age_seconds"] >= 0
    assert body["jobs"]["queued"] == 1 and body["jobs"]["in_progress"] == 0 and body["jobs"]["oldest_age_seconds"] >= 0
    assert body["queues"][0]["queue"] == Queue.short and body["queues"][0]["ready"] == 1
    assert body["failed"][0]["id"] == failed and body["failed"][0]["error_type"] == "OpsJobFailed"
    assert body["totals"]["failed_last_hour"] == 1 and len(body["throughput"]) == 60


async def test_the_queue_summary_reads_the_database_in_fixed_statements_whatever_its_size(
    client: AsyncClient,
    login,  # type: ignore[no-untyped-def]
    session: AsyncSession,
    statements: StatementLog,
) -> None:
    admin: SignedIn = await login(Role.admin)
    counts = []
    for size in (3, 30):
        session.add_all([OutboxMessage(topic=OutboxTopic.transfer_audit, payload={"n": n}) for n in range(size)])
        for _ in range(size):
            await records.accept(session, BULK_DELETE_HEROES, {"ids": [1]}, None)
        discard_pending(session)
        await flush(session)
        with statements.record():
            assert (await client.get(QUEUES, headers=admin.headers)).status_code == 200
        counts.append(statements.count)
    assert counts[0] == counts[1]


async def test_job_detail_shows_a_failed_jobs_traceback_and_404s_unknown_ids(
    client: AsyncClient,
    login,  # type: ignore[no-untyped-def]
    job_pool: ArqRedis,
    ops_worker: OpsWorker,
) -> None:
    admin: SignedIn = await login(Role.admin)
    failed = await failed_job(job_pool, ops_worker, "show me")

    detail = await client.get(f"/api/v1/ops/jobs/{failed}", headers=admin.headers)
    assert detail.status_code == 200
    error = detail.json()["error"]
    assert error["type"] == "OpsJobFailed" and error["message"] == "refused: show me"
    assert "Traceback (most recent call last)" in error["traceback"]

    missing = await client.get("/api/v1/ops/jobs/nothing-here", headers=admin.headers)
    assert missing.status_code == 404 and missing.json()["status"] == 404
    bad = await client.get("/api/v1/ops/jobs/bad%20id", headers=admin.headers)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "path.job_id"


async def test_retry_abort_and_purge_over_http(
    client: AsyncClient,
    login,  # type: ignore[no-untyped-def]
    job_pool: ArqRedis,
    ops_worker: OpsWorker,
) -> None:
    admin: SignedIn = await login(Role.admin)
    failed = await failed_job(job_pool, ops_worker)

    retried = await client.post(f"/api/v1/ops/jobs/{failed}/retry", headers=admin.headers)
    assert retried.status_code == 202, retried.text
    new_id = retried.json()["new_job_id"]
    assert retried.json() == {"job_id": failed, "new_job_id": new_id, "queue": Queue.short}

    aborted = await client.post(f"/api/v1/ops/jobs/{new_id}/abort", headers=admin.headers)
    assert aborted.status_code == 202 and aborted.json() == {"job_id": new_id, "status": "queued"}
    again = await client.post(f"/api/v1/ops/jobs/{failed}/abort", headers=admin.headers)
    assert again.status_code == 409 and again.json()["rule"] == "job_finished"
    unknown = await client.post("/api/v1/ops/jobs/nope/retry", headers=admin.headers)
    assert unknown.status_code == 404

    bad_scope = await client.post("/api/v1/ops/results/purge", json={"status": "some"}, headers=admin.headers)
    assert bad_scope.status_code == 422 and bad_scope.json()["errors"][0]["field"] == "body.status"
    extra = await client.post("/api/v1/ops/results/purge", json={"status": "all", "x": 1}, headers=admin.headers)
    assert extra.status_code == 422
    purged = await client.post("/api/v1/ops/results/purge", json={"status": "failed"}, headers=admin.headers)
    assert purged.status_code == 200 and purged.json() == {"purged": 1, "status": "failed"}

    audit = (await client.get(QUEUES, headers=admin.headers)).json()["audit"]
    assert [(a["action"], a["user"], a["user_id"]) for a in audit] == [
        ("purge", admin.user.username, admin.id),
        ("abort", admin.user.username, admin.id),
        ("retry", admin.user.username, admin.id),
    ]


def test_the_ops_routes_are_documented_with_their_response_models(app: FastAPI) -> None:
    paths = app.openapi()["paths"]
    success = {
        ("get", QUEUES, "200"): "OpsSummary",
        ("get", "/api/v1/ops/jobs/{job_id}", "200"): "JobDetail",
        ("post", "/api/v1/ops/jobs/{job_id}/retry", "202"): "RetryAccepted",
        ("post", "/api/v1/ops/jobs/{job_id}/abort", "202"): "AbortRequested",
        ("post", "/api/v1/ops/results/purge", "200"): "PurgeResult",
    }
    for (method, path, status), model in success.items():
        schema = paths[path][method]["responses"][status]["content"]["application/json"]["schema"]
        assert schema["$ref"].endswith(f"/{model}")
    assert "/ops" not in paths and "/metrics" not in paths


async def test_the_dashboard_page_and_its_assets_are_served_without_any_cdn(client: AsyncClient) -> None:
    page = await client.get("/ops")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'src="/ops/static/ops.js"' in page.text
    for asset in ("ops.js", "ops.css"):
        response = await client.get(f"/ops/static/{asset}")
        assert response.status_code == 200
    for path in STATIC_DIR.iterdir():
        external = re.findall(
            r"(?:src|href)=\"https?://|url\(https?://|fetch\(\"https?://|import .* from \"http", path.read_text()
        )
        assert external == [], path.name


def app_with(settings: Settings, job_pool: ArqRedis, connection: AsyncConnection) -> FastAPI:
    app = create_app(settings)
    app.state.job_pool = app.state.redis = job_pool
    app.state.session_factory = async_sessionmaker(
        bind=connection, class_=AsyncSession, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )
    return app


METRICS_TOKEN = "metrics-token-for-tests-0123456789"


@pytest.fixture
async def metrics_client(job_pool: ArqRedis, connection: AsyncConnection) -> AsyncIterator[AsyncClient]:
    settings = get_settings().model_copy(update={"metrics_token": SecretStr(METRICS_TOKEN)})
    app = app_with(settings, job_pool, connection)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client:
        yield client


async def test_metrics_need_the_metrics_token(metrics_client: AsyncClient) -> None:
    assert (await metrics_client.get("/metrics")).status_code == 401
    wrong = await metrics_client.get("/metrics", headers={"Authorization": "Bearer not-it"})
    assert wrong.status_code == 401
    right = await metrics_client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert right.status_code == 200 and right.headers["content-type"].startswith("text/plain")


async def test_metrics_expose_queues_jobs_outbox_and_http_requests(
    metrics_client: AsyncClient, job_pool: ArqRedis, ops_worker: OpsWorker, session: AsyncSession
) -> None:
    await enqueue(job_pool, "ops_ok", 1)
    await enqueue(job_pool, "ops_fail", "metrics")
    await ops_worker.run(jobs=2)
    await enqueue(job_pool, "ops_ok", 2)
    await enqueue(job_pool, "ops_ok", 3, _defer_by=600)
    session.add(OutboxMessage(topic=OutboxTopic.transfer_audit, payload={}))
    await flush(session)
    await metrics_client.get("/api/v1/ops/jobs/some-job")  # a 401, labelled by its route template

    text = (await metrics_client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})).text

    assert 'guildhall_queue_jobs{queue="guildhall:short",state="ready"} 1.0' in text
    assert 'guildhall_queue_jobs{queue="guildhall:short",state="deferred"} 1.0' in text
    assert 'guildhall_queue_jobs{queue="guildhall:short",state="in_progress"} 0.0' in text
    assert re.search(r'guildhall_queue_latency_seconds\{queue="guildhall:short"\} \d', text)
    assert 'guildhall_jobs_total{function="ops_fail",outcome="failed",queue="guildhall:short"} 1.0' in text
    assert 'guildhall_job_duration_seconds_bucket{function="ops_ok",le="+Inf"} 1.0' in text
    assert 'guildhall_job_duration_seconds_count{function="ops_ok"} 1.0' in text
    assert re.search(r"guildhall_outbox_waiting_messages [1-9]", text)
    assert "guildhall_outbox_oldest_age_seconds" in text and "guildhall_ops_redis_up 1.0" in text
    assert 'guildhall_http_requests_total{method="GET",route="/api/v1/ops/jobs/{job_id}",status="401"} 1.0' in text
    assert 'guildhall_http_request_duration_seconds_count{method="GET",route="/api/v1/ops/jobs/{job_id}"} 1.0' in text


async def test_metrics_are_refused_outside_development_without_a_token(
    job_pool: ArqRedis, connection: AsyncConnection
) -> None:
    settings = get_settings().model_copy(update={"metrics_token": None, "environment": "production"})
    app = app_with(settings, job_pool, connection)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client:
        assert (await client.get("/metrics")).status_code == 403


async def test_metrics_can_be_served_on_a_separate_address_only(
    job_pool: ArqRedis, connection: AsyncConnection
) -> None:
    address = f"127.0.0.1:{free_port()}"
    settings = get_settings().model_copy(update={"metrics_listen": address})
    app = app_with(settings, job_pool, connection)
    listener = metrics.listener_for(app, settings)
    assert listener is not None
    await listener.start()
    try:
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client:
            assert (await client.get("/metrics")).status_code == 404
        async with AsyncClient(base_url=f"http://{address}") as scraper:
            scraped = await scraper.get("/metrics")
            other = await scraper.get("/api/v1/ops/queues")
    finally:
        await listener.stop()
    assert scraped.status_code == 200 and "guildhall_queue_jobs" in scraped.text
    assert other.status_code == 404
    await asyncio.sleep(0)
