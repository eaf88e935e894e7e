"""The operator role over HTTP: every ops view answers, every ops action is 403 naming the admin
role and changes nothing (a failed job stays failed, a queued one queued, results stay, no audit
entry); admins make operators with PATCH /users/{id}."""

from arq import ArqRedis
from httpx import AsyncClient
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import flush
from shared.heroes.jobs import BULK_DELETE_HEROES
from shared.jobs import records
from shared.jobs.after_commit import discard_pending
from shared.jobs.queues import Queue
from shared.models.users import Role
from shared.ops import keys
from shared.ops.inspect import read_job_detail
from shared.ops.schemas import JobStatus
from tests.api.conftest import SignedIn
from tests.ops.conftest import OpsWorker
from tests.support.queues import enqueue

OPS = "/api/v1/ops"
NEEDS_ADMIN = "this needs the role admin"


async def test_an_operator_sees_every_ops_view_and_the_dashboard(
    client: AsyncClient,
    login,  # type: ignore[no-untyped-def]
    job_pool: ArqRedis,
    ops_worker: OpsWorker,
) -> None:
    operator: SignedIn = await login(Role.operator)
    admin: SignedIn = await login(Role.admin)
    failed = await enqueue(job_pool, "ops_fail", "seen by an operator")
    await ops_worker.run(jobs=1)

    summary = await client.get(f"{OPS}/queues", headers=operator.headers)
    assert summary.status_code == 200, summary.text
    assert summary.json()["failed"][0]["id"] == failed

    detail = await client.get(f"{OPS}/jobs/{failed}", headers=operator.headers)
    assert detail.status_code == 200, detail.text
    error = detail.json()["error"]
    assert error["message"] == "refused: seen by an operator" and "Traceback" in error["traceback"]
    # The arguments are domain data (a bulk hero update carries secret identities): admins' to read.
    assert detail.json()["args_preview"] is None
    as_admin = (await client.get(f"{OPS}/jobs/{failed}", headers=admin.headers)).json()
    assert "seen by an operator" in as_admin["args_preview"]
    assert {k: v for k, v in as_admin.items() if k not in ("args_preview", "result_preview")} == {
        k: v for k, v in detail.json().items() if k not in ("args_preview", "result_preview")
    }

    missing = await client.get(f"{OPS}/jobs/nothing-here", headers=operator.headers)
    assert missing.status_code == 404
    for page in ("/ops", "/ops/static/ops.js", "/ops/static/ops.css"):  # the page holds no data
        assert (await client.get(page)).status_code == 200


async def test_every_ops_action_is_refused_to_an_operator_naming_the_admin_role_and_changes_nothing(
    client: AsyncClient,
    login,  # type: ignore[no-untyped-def]
    session: AsyncSession,
    job_pool: ArqRedis,
    ops_worker: OpsWorker,
) -> None:
    operator: SignedIn = await login(Role.operator)
    failed = await enqueue(job_pool, "ops_fail", "stays failed")
    await ops_worker.run(jobs=1)
    queued = await enqueue(job_pool, "ops_ok", 1)
    bulk = await records.accept(session, BULK_DELETE_HEROES, {"ids": [1]}, None)
    discard_pending(session)  # the record alone: a queued bulk job an operator tries to abort
    await flush(session)

    for method, path, body in [
        ("POST", f"{OPS}/jobs/{failed}/retry", None),
        ("POST", f"{OPS}/jobs/{queued}/abort", None),
        ("POST", f"{OPS}/jobs/{bulk}/abort", None),
        ("POST", f"{OPS}/results/purge", {"status": "all"}),
    ]:
        refused = await client.request(method, path, json=body, headers=operator.headers)
        assert refused.status_code == 403, (path, refused.text)
        assert refused.json()["detail"] == NEEDS_ADMIN and refused.headers["content-type"] == "application/problem+json"

    still_failed = await read_job_detail(job_pool, failed)
    assert still_failed is not None and still_failed.status == JobStatus.failed and still_failed.retried_as is None
    assert await job_pool.exists(keys.result(failed))  # not purged
    assert await job_pool.zrange(Queue.short, 0, -1) == [queued.encode()]  # no retry enqueued, not aborted
    assert await job_pool.zscore(keys.ABORT_SET, queued) is None
    record = await records.read(session, bulk)
    assert record is not None and record.status == "queued"
    assert await job_pool.llen(keys.AUDIT) == 0


async def test_an_admin_makes_an_operator_and_an_operator_manages_no_user(
    client: AsyncClient,
    login,  # type: ignore[no-untyped-def]
) -> None:
    admin: SignedIn = await login(Role.admin)
    author: SignedIn = await login(Role.author)
    made = await client.patch(f"/api/v1/users/{author.id}", json={"role": "operator"}, headers=admin.headers)
    assert made.status_code == 200 and made.json()["role"] == "operator", made.text

    operator: SignedIn = await login(Role.operator)
    for method, path, body in [
        ("PATCH", f"/api/v1/users/{author.id}", {"role": "admin"}),
        ("GET", f"/api/v1/users/{author.id}", None),
        ("POST", "/api/v1/users", {"username": "made-by-op", "email": "op@example.com", "password": "long-enough"}),
    ]:
        refused = await client.request(method, path, json=body, headers=operator.headers)
        assert refused.status_code == 403 and refused.json()["detail"] == NEEDS_ADMIN, (path, refused.text)
    me = await client.get("/api/v1/users/me", headers=operator.headers)
    assert me.status_code == 200 and me.json()["role"] == "operator"
