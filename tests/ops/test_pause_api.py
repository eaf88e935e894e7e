"""Pause and resume over HTTP: admins only (an operator's 403 changes nothing), idempotent, audited,
shown in the queue summary and in the metrics."""

import re

from arq import ArqRedis
from httpx import AsyncClient
from prometheus_client import CollectorRegistry, generate_latest

from services.api.metrics.collector import QueueCollector
from shared.jobs.queues import Queue
from shared.models.users import Role
from shared.ops import keys
from shared.ops.inspect import read_summary
from shared.ops.text import render_summary
from tests.api.conftest import SignedIn

OPS = "/api/v1/ops"


async def scrape(pool: ArqRedis) -> str:
    registry = CollectorRegistry()
    registry.register(QueueCollector(await read_summary(pool)))
    return generate_latest(registry).decode()


def queue_row(summary: dict[str, object], queue: str) -> dict[str, object]:
    [row] = [q for q in summary["queues"] if q["queue"] == queue]  # type: ignore[attr-defined, index]
    return row  # type: ignore[no-any-return]


async def test_an_admin_pauses_and_resumes_a_queue_idempotently_audited_and_shown(
    client: AsyncClient,
    login,  # type: ignore[no-untyped-def]
    job_pool: ArqRedis,
) -> None:
    admin: SignedIn = await login(Role.admin)
    operator: SignedIn = await login(Role.operator)

    paused = await client.post(f"{OPS}/queues/{Queue.short}/pause", headers=admin.headers)
    assert paused.status_code == 200, paused.text
    body = paused.json()
    assert (body["queue"], body["paused"], body["changed"], body["paused_by"]) == (
        Queue.short,
        True,
        True,
        admin.user.username,
    )
    again = (await client.post(f"{OPS}/queues/short/pause", headers=admin.headers)).json()  # its short name too
    assert again["paused"] and not again["changed"] and "already paused" in again["detail"]
    assert again["paused_at"] == body["paused_at"] and admin.user.username in again["detail"]

    summary = (await client.get(f"{OPS}/queues", headers=operator.headers)).json()
    short, bulk = queue_row(summary, Queue.short), queue_row(summary, Queue.bulk)
    assert (short["paused"], short["paused_by"], short["paused_at"]) == (True, admin.user.username, body["paused_at"])
    assert (bulk["paused"], bulk["paused_by"], bulk["paused_at"]) == (False, None, None)
    table = render_summary(await read_summary(job_pool))  # what `guildhall queue` prints
    [short_line] = [line for line in table.splitlines() if line.startswith(Queue.short)]
    assert short_line.rstrip().endswith(f"by {admin.user.username}") and "PAUSED since" in short_line
    text = await scrape(job_pool)
    assert f'guildhall_queue_paused{{queue="{Queue.short}"}} 1.0' in text
    assert f'guildhall_queue_paused{{queue="{Queue.bulk}"}} 0.0' in text
    assert re.search(rf'guildhall_queue_paused_seconds\{{queue="{Queue.short}"\}} \d', text)

    resumed = (await client.post(f"{OPS}/queues/{Queue.short}/resume", headers=admin.headers)).json()
    assert not resumed["paused"] and resumed["changed"] and "resumed" in resumed["detail"]
    idle = (await client.post(f"{OPS}/queues/{Queue.short}/resume", headers=admin.headers)).json()
    assert not idle["paused"] and not idle["changed"] and "was not paused" in idle["detail"]
    assert not await job_pool.exists(keys.paused(Queue.short))
    assert f'guildhall_queue_paused_seconds{{queue="{Queue.short}"}} 0.0' in await scrape(job_pool)

    audit = (await client.get(f"{OPS}/queues", headers=operator.headers)).json()["audit"]
    assert [(a["action"], a["user"], a["job_id"], a["detail"]) for a in reversed(audit)] == [
        ("pause", admin.user.username, None, {"queue": Queue.short, "changed": True}),
        ("pause", admin.user.username, None, {"queue": Queue.short, "changed": False}),
        ("resume", admin.user.username, None, {"queue": Queue.short, "changed": True}),
        ("resume", admin.user.username, None, {"queue": Queue.short, "changed": False}),
    ]


async def test_an_operator_may_not_pause_or_resume_and_nothing_changes(
    client: AsyncClient,
    login,  # type: ignore[no-untyped-def]
    job_pool: ArqRedis,
) -> None:
    operator: SignedIn = await login(Role.operator)
    admin: SignedIn = await login(Role.admin)
    refused = await client.post(f"{OPS}/queues/{Queue.bulk}/pause", headers=operator.headers)
    assert refused.status_code == 403 and refused.json()["detail"] == "this needs the role admin"
    assert not await job_pool.exists(keys.paused(Queue.bulk))

    await client.post(f"{OPS}/queues/{Queue.bulk}/pause", headers=admin.headers)
    refused = await client.post(f"{OPS}/queues/{Queue.bulk}/resume", headers=operator.headers)
    assert refused.status_code == 403
    assert await job_pool.exists(keys.paused(Queue.bulk))  # still paused
    assert [a["action"] for a in (await client.get(f"{OPS}/queues", headers=admin.headers)).json()["audit"]] == [
        "pause"
    ]


async def test_an_unknown_queue_is_404_naming_it_and_writes_nothing(
    client: AsyncClient,
    login,  # type: ignore[no-untyped-def]
    job_pool: ArqRedis,
) -> None:
    admin: SignedIn = await login(Role.admin)
    for action in ("pause", "resume"):
        response = await client.post(f"{OPS}/queues/guildhall:nope/{action}", headers=admin.headers)
        assert response.status_code == 404, response.text
        assert response.json()["detail"] == "queue guildhall:nope does not exist"
    spaced = await client.post(f"{OPS}/queues/no%20such/pause", headers=admin.headers)
    assert spaced.status_code == 422 and spaced.json()["errors"][0]["field"] == "path.queue"
    assert not [key async for key in job_pool.scan_iter("guildhall:paused:*")]
    assert await job_pool.llen(keys.AUDIT) == 0
