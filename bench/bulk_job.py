"""A bulk update end to end vs the database's own work, in one run.

    .venv/bin/python -m bench.bulk_job [ROWS] [--rounds N]      (default 100,000 rows, 3 rounds)

Guildhall: `POST /api/v1/jobs/heroes/bulk-update` with ROWS items (the body encoded beforehand),
then `GET /api/v1/jobs/{id}` every 20 ms until it says complete: the API validates and records the
job, the bulk worker (its own process) applies it. Timed from the request's first byte to the
first status that says complete.

Floor: one `UPDATE hero ... FROM unnest(...)` of the same rows from a client holding the arrays
(asyncpg), what the database must do whatever sits in front of it.

Both change every row each time (the value alternates), run interleaved, and each keeps its best.
The apps run one process each on this machine's cores, as `make run` would (API, bulk worker,
a private redis-server); the benchmark's own CPU is small (a few requests).
"""

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import asyncpg
import httpx

from bench.api.apps import BENCH_SECRET
from bench.api.processes import Managed, free_port, start, start_redis, uvicorn_argv, wait_ready
from bench.api.seed import ADMIN_NAME, ADMIN_PASSWORD, create_admin
from bench.common import scratch_database
from services.api.http_limits import PROTOCOL

POLL_SECONDS = 0.02
JOB_TIMEOUT = 300.0

FLOOR = "UPDATE hero SET power_level = b.p FROM unnest($1::int[], $2::float8[]) AS b(id, p) WHERE hero.id = b.id"


def environment(database_url: str, redis_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("METRICS_", "DB_ECHO"))}
    env.update(
        DATABASE_URL=database_url.replace("postgresql://", "postgresql+asyncpg://", 1),
        REDIS_URL=redis_url,
        ENVIRONMENT="development",
        SECRET_KEY=BENCH_SECRET,
        ACCESS_TOKEN_MINUTES="600",
        # One admin drives hundreds of writes a second: per-user write limits off (README, Security).
        WRITE_LIMITS="{}",
    )
    return env


async def seed(connection: asyncpg.Connection, rows: int) -> list[int]:
    ids = await connection.fetch(
        "INSERT INTO hero (name, secret_identity, age, power_level) "
        "SELECT 'hero ' || g, 'identity ' || g, 30, 10 FROM generate_series(1, $1) g RETURNING id",
        rows,
    )
    await connection.execute("ANALYZE hero")
    return sorted(row["id"] for row in ids)


async def floor_once(connection: asyncpg.Connection, ids: list[int], value: float) -> float:
    powers = [value] * len(ids)
    start_at = time.perf_counter()
    async with connection.transaction():
        status = await connection.execute(FLOOR, ids, powers)
    seconds = time.perf_counter() - start_at
    assert status == f"UPDATE {len(ids)}", status
    return seconds


async def job_once(client: httpx.AsyncClient, body: bytes, rows: int) -> float:
    start_at = time.perf_counter()
    accepted = await client.post("/jobs/heroes/bulk-update", content=body)
    answered = time.perf_counter() - start_at
    if accepted.status_code != 202:
        raise SystemExit(f"bulk update refused: {accepted.status_code} {accepted.text[:500]}")
    status_url = accepted.json()["status_url"].removeprefix("/api/v1")
    while True:
        state = (await client.get(status_url)).json()
        if state["status"] == "complete":
            seconds = time.perf_counter() - start_at
            break
        if state["status"] == "failed" or time.perf_counter() - start_at > JOB_TIMEOUT:
            raise SystemExit(f"the job did not complete: {state}")
        await asyncio.sleep(POLL_SECONDS)
    assert state["result"] == {"updated": rows, "missing_ids": []}, state["result"]
    started, finished = (datetime.fromisoformat(state[key]) for key in ("started_at", "finished_at"))
    print(
        f"    202 after {answered:.3f} s; the worker's run {(finished - started).total_seconds():.3f} s"
        f" (from its start to its COMMIT, by the database's clock)"
    )
    return seconds


async def run(rows: int, rounds: int, database: str | None = None) -> tuple[float, float]:
    print(f"bulk update of {rows:,} heroes end to end (python -m bench.bulk_job {rows} --rounds {rounds})")
    with tempfile.TemporaryDirectory(prefix="bench-bulk-job-") as directory:
        work_dir = Path(directory)
        redis, redis_url = await start_redis(work_dir)
        started: list[Managed] = [redis]
        try:
            async with scratch_database(database) as engine:
                url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
                env = environment(url, redis_url)
                await create_admin(env)
                connection = await asyncpg.connect(url)
                try:
                    ids = await seed(connection, rows)
                    port = free_port()
                    api = await start("api", uvicorn_argv("services.api.main:app", port, 1, PROTOCOL), env, work_dir)
                    started.append(api)
                    guildhall = str(Path(sys.executable).with_name("guildhall"))
                    started.append(await start("bulk worker", [guildhall, "worker", "--queue", "bulk"], env, work_dir))
                    base = f"http://127.0.0.1:{port}"
                    await wait_ready(api, base + "/readyz")
                    async with httpx.AsyncClient(base_url=base + "/api/v1", timeout=JOB_TIMEOUT) as client:
                        form = {"username": ADMIN_NAME, "password": ADMIN_PASSWORD}
                        token = (await client.post("/auth/token", data=form)).json()["access_token"]
                        client.headers["Authorization"] = f"Bearer {token}"
                        client.headers["Content-Type"] = "application/json"
                        floors, jobs = [], []
                        for round_no in range(rounds):
                            value = float(20 + round_no * 2)
                            body = json.dumps({"items": [{"id": i, "power_level": value + 1} for i in ids]}).encode()
                            # Each run leaves ROWS dead row versions behind: vacuumed before every
                            # run (untimed), both start from the same table, whatever autovacuum does.
                            await connection.execute("VACUUM hero")
                            floors.append(await floor_once(connection, ids, value))
                            await connection.execute("VACUUM hero")
                            jobs.append(await job_once(client, body, rows))
                            print(
                                f"  round {round_no + 1}: one UPDATE ... FROM unnest {floors[-1]:7.3f} s"
                                f"   POST + job until complete {jobs[-1]:7.3f} s",
                                flush=True,
                            )
                finally:
                    await connection.close()
        finally:
            for managed in reversed(started):
                await managed.stop()
    floor, ours = min(floors), min(jobs)
    print(f"best: floor {floor:.3f} s, guildhall end to end {ours:.3f} s")
    print(f"ratio end to end / one UPDATE ... FROM unnest: {ours / floor:.2f}x   (goal <= 1.5x)")
    return floor, ours


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bulk_job", description=__doc__)
    parser.add_argument("rows", nargs="?", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--database", help="scratch database, dropped and recreated (default <DATABASE_URL's name>_bench)"
    )
    args = parser.parse_args(argv)
    asyncio.run(run(args.rows, args.rounds, args.database))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
