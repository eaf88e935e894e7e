"""The job history over HTTP: the run list newest first, each filter, paging, search; an operator
gets no arguments and searches the errors only; a job's timeline; the metric history's percentiles,
failure rate and wait time from the minute rows, its bound of 1,440 points; bad input is a 422
naming the field."""

from datetime import UTC, datetime, timedelta

from httpx import AsyncClient
from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.jobs import retention
from shared.models.users import Role
from shared.ops import buckets
from tests.api.conftest import SignedIn

OPS = "/api/v1/ops"
NOW = datetime.now(UTC)


async def add_run(
    session: AsyncSession, job_id: str, function: str, status: str, minutes_ago: int, **extra: object
) -> None:
    ended = NOW - timedelta(minutes=minutes_ago)
    await session.exec(  # type: ignore[call-overload]
        text(
            "INSERT INTO job_run (job_id, function, queue, attempt, status, started_at, ended_at, duration_ms,"
            " wait_ms, worker, args_preview, error_type, error_message) VALUES (:job_id, :function, :queue,"
            " :attempt, :status, :started, :ended, 1000, 5, 'w', :args, :error_type, :error)"
        ),
        params={
            "job_id": job_id,
            "function": function,
            "queue": extra.get("queue", "guildhall:short"),
            "attempt": extra.get("attempt", 1),
            "status": status,
            "ended": ended,
            "started": ended - timedelta(seconds=1),
            "args": extra.get("args", '{"kwargs": {"message_id": 1}}'),
            "error_type": extra.get("error_type"),
            "error": extra.get("error"),
        },
    )


async def test_the_run_list_pages_newest_first_filters_and_searches(
    client: AsyncClient,
    session: AsyncSession,
    login,  # type: ignore[no-untyped-def]
) -> None:
    admin: SignedIn = await login(Role.admin)
    operator: SignedIn = await login(Role.operator)
    await add_run(session, "a", "ops_ok", "complete", 5, args='{"kwargs": {"needle_arg": 1}}')
    await add_run(session, "b", "ops_fail", "failed", 4, error_type="Boom", error="needle in the error")
    await add_run(session, "c", "ops_ok", "retried", 3, queue="guildhall:bulk")
    await add_run(session, "c", "ops_ok", "complete", 2, queue="guildhall:bulk", attempt=2)

    async def ids(caller: SignedIn, **query: object) -> list[str]:
        response = await client.get(f"{OPS}/jobs", params=query, headers=caller.headers)
        assert response.status_code == 200, response.text
        return [item["job_id"] for item in response.json()["items"]]

    assert await ids(admin) == ["c", "c", "b", "a"]
    assert await ids(admin, function="ops_fail") == ["b"]
    assert await ids(admin, status="retried") == ["c"]
    assert await ids(admin, queue="guildhall:bulk") == ["c", "c"]
    since, until = (
        (NOW - timedelta(minutes=4, seconds=30)).isoformat(),
        (NOW - timedelta(minutes=2, seconds=30)).isoformat(),
    )
    assert await ids(admin, since=since, until=until) == ["c", "b"]
    assert await ids(admin, q="needle") == ["b", "a"]  # the error, and the arguments
    assert await ids(operator, q="needle") == ["b"]  # an operator's search reads the errors only

    first = (await client.get(f"{OPS}/jobs", params={"limit": 3}, headers=admin.headers)).json()
    rest = (
        await client.get(f"{OPS}/jobs", params={"limit": 3, "cursor": first["next_cursor"]}, headers=admin.headers)
    ).json()
    assert [i["job_id"] for i in first["items"] + rest["items"]] == ["c", "c", "b", "a"] and rest["next_cursor"] is None
    as_operator = (await client.get(f"{OPS}/jobs", headers=operator.headers)).json()["items"]
    assert all(item["args_preview"] is None for item in as_operator)
    assert as_operator[2]["error_message"] == "needle in the error"

    timeline = (await client.get(f"{OPS}/jobs/c/attempts", headers=admin.headers)).json()["items"]
    assert [(t["attempt"], t["status"]) for t in timeline] == [(1, "retried"), (2, "complete")]

    for query, field in (
        ({"q": "%%%"}, "query.q"),
        ({"status": "lost"}, "status"),
        ({"since": until, "until": since}, "query.until"),
    ):
        refused = await client.get(f"{OPS}/jobs", params=query, headers=admin.headers)
        assert refused.status_code == 422, refused.text
        assert field in refused.text, refused.text


async def test_the_metric_history_reads_percentiles_failures_and_waits_from_the_minutes(
    client: AsyncClient,
    session: AsyncSession,
    login,  # type: ignore[no-untyped-def]
) -> None:
    operator: SignedIn = await login(Role.operator)
    minute = NOW.replace(second=0, microsecond=0) - timedelta(minutes=3)
    runs = buckets.histogram([20] * 90 + [300] * 9 + [2000])  # p50 20 ms, p95 300 ms, p99 300 ms, max 2 s
    waits = buckets.histogram([5] * 50 + [400] * 50)
    await session.exec(  # type: ignore[call-overload]
        text(
            "INSERT INTO job_metric_minute VALUES"
            " ('ops_ok', 'guildhall:short', :minute, 75, 25, 3, 0, 0, :runs, :waits)"
        ),
        params={"minute": minute, "runs": runs, "waits": waits},
    )
    response = await client.get(
        f"{OPS}/metrics/history",
        params={"function": "ops_ok", "since": (minute - timedelta(minutes=2)).isoformat()},
        headers=operator.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    point = next(p for p in body["points"] if p["complete"])
    assert (point["complete"], point["failed"], point["retried"], point["failure_rate"]) == (75, 25, 3, 0.25)
    assert point["run_ms"] == {"p50": 20.0, "p95": 315.0, "p99": 315.0}  # the upper bound of each bucket
    assert point["wait_ms"]["p50"] == 5.0 and point["wait_ms"]["p95"] == 400.0
    assert body["overall"]["run_ms"] == point["run_ms"] and len(body["points"]) >= 3
    assert all(p["complete"] == 0 for p in body["points"] if p is not point)  # empty minutes are points too

    day = await client.get(
        f"{OPS}/metrics/history",
        # Both ends given: NOW is the module's import time, and `until` defaults to the request's
        # now, minutes later in a full run, which would make the window longer than a day.
        params={"since": (NOW - timedelta(hours=23, minutes=58)).isoformat(), "until": NOW.isoformat()},
        headers=operator.headers,
    )
    assert day.status_code == 200 and len(day.json()["points"]) <= 1440
    too_long = await client.get(
        f"{OPS}/metrics/history", params={"since": (NOW - timedelta(hours=25)).isoformat()}, headers=operator.headers
    )
    assert too_long.status_code == 422 and "query.since" in too_long.text, too_long.text
    coarse = await client.get(
        f"{OPS}/metrics/history",
        params={"since": (NOW - timedelta(hours=25)).isoformat(), "step": 5},
        headers=operator.headers,
    )
    assert coarse.status_code == 200 and coarse.json()["step_minutes"] == 5


async def test_retention_deletes_runs_past_job_history_days_and_minutes_past_job_metrics_hours(
    session: AsyncSession, worker_ctx: dict[str, object]
) -> None:
    await add_run(session, "old", "ops_ok", "complete", 15 * 24 * 60)  # 15 days: past the 14
    await add_run(session, "kept", "ops_ok", "complete", 13 * 24 * 60)
    for hours in (25, 23):
        await session.exec(  # type: ignore[call-overload]
            text(
                "INSERT INTO job_metric_minute VALUES ('ops_ok', 'guildhall:short',"
                " date_trunc('minute', now()) - :hours * interval '1 hour', 1, 0, 0, 0, 0, '{}', '{}')"
            ),
            params={"hours": hours},
        )
    deleted = await retention.prune(worker_ctx)
    assert (deleted["job_run"], deleted["job_metric_minute"]) == (1, 1)
    left = (await session.exec(text("SELECT job_id FROM job_run"))).scalars().all()  # type: ignore[call-overload]
    assert left == ["kept"]
    minutes = (await session.exec(text("SELECT minute FROM job_metric_minute"))).scalars().all()  # type: ignore[call-overload]
    assert len(minutes) == 1 and minutes[0] > NOW - timedelta(hours=24)
