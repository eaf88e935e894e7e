"""Guildhall behind PgBouncer 1.18 in transaction mode (DB_POOLER=transaction), on a PostgreSQL
cluster, a PgBouncer and a redis-server of the test's own.

The PgBouncer is strict as a production one is: no `ignore_startup_parameters`, four server
connections, and only the `guildhall` database (no wildcard, no `postgres`). What must hold:
- the API (two processes, `guildhall api`), the short worker and the CLI serve through it, with
  no startup parameter it refuses and no prepared statement that outlives its transaction: 300
  mixed requests, 16 at a time, all answered 2xx, and every comment and transfer handled once;
- the statement, lock and idle-in-transaction bounds still hold, set per transaction;
- no advisory lock outlives its transaction (a session lock would follow the server connection
  to another client).
"""

import asyncio
import os
import re
import subprocess
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from shared.db import WaitLimits, create_engine
from shared.settings import Settings
from tests.e2e.conftest import (
    PASSWORD,
    PROCESS_ENV,
    ROOT,
    SECRET_KEY,
    executable,
    wait_until,
)
from tests.faults.conftest import PostgresServer, RedisServer, prepare_database, worker_service
from tests.support.postgres import count
from tests.support.processes import guildhall_api
from tests.topology.servers import PgBouncer

REQUESTS = 300
AT_ONCE = 16
LOCK_TIMEOUT_MS = 500


def pooled_settings(pgbouncer: PgBouncer, primary: PostgresServer, **extra: object) -> Settings:
    return Settings(
        database_url=pgbouncer.url("guildhall"),
        database_direct_url=primary.url("guildhall"),
        db_pooler="transaction",
        environment="test",
        secret_key=SECRET_KEY,
        **extra,  # type: ignore[arg-type]
    )


async def create_database(primary: PostgresServer) -> None:
    connection = await asyncpg.connect(primary.url("postgres").replace("+asyncpg", ""))
    try:
        await connection.execute("CREATE DATABASE guildhall")
    finally:
        await connection.close()


async def test_engine_through_the_pooler_sets_the_bounds_per_transaction_and_names_no_statement(
    pg_primary: PostgresServer, pgbouncer: PgBouncer
) -> None:
    await create_database(pg_primary)
    settings = pooled_settings(pgbouncer, pg_primary)
    limits = WaitLimits(statement_timeout_ms=300, lock_timeout_ms=LOCK_TIMEOUT_MS, pool_timeout_seconds=5)
    engine = create_engine(settings, limits=limits, pool_size=20, max_overflow=0)
    try:

        async def transaction(i: int) -> tuple[str, str, str, int]:
            async with engine.begin() as connection:
                row = (
                    await connection.execute(
                        text(
                            "SELECT current_setting('statement_timeout'), current_setting('lock_timeout'),"
                            " current_setting('idle_in_transaction_session_timeout'), CAST(:i AS int)"
                        ),
                        {"i": i},
                    )
                ).one()
                await connection.execute(text("SELECT pg_sleep(0.005)"))
                return row[0], row[1], row[2], row[3]

        # 20 client connections take turns on PgBouncer's 4 server connections, statement after
        # statement: a named prepared statement would be missing or duplicated on another one.
        rows = await asyncio.gather(*(transaction(i) for i in range(400)))
        assert {row[:3] for row in rows} == {("300ms", "500ms", "1min")}
        assert sorted(row[3] for row in rows) == list(range(400))

        # The statement bound holds: the server cancels the statement (57014), not the client.
        with pytest.raises(DBAPIError) as cancelled:
            async with engine.begin() as connection:
                await connection.execute(text("SELECT pg_sleep(5)"))
        assert getattr(cancelled.value.orig, "sqlstate", None) == "57014"

        # Nothing is left in the server sessions for their next client: not the bounds (SET LOCAL),
        # not a named prepared statement (each server connection, as seen through the pooler).
        direct = await asyncpg.connect(pg_primary.url("guildhall").replace("+asyncpg", ""), statement_cache_size=0)
        try:
            assert await direct.fetchval("SHOW statement_timeout") == "0"
        finally:
            await direct.close()

        async def named_statements() -> int:
            async with engine.begin() as connection:
                return int((await connection.execute(text("SELECT count(*) FROM pg_prepared_statements"))).scalar_one())

        assert await asyncio.gather(*(named_statements() for _ in range(20))) == [0] * 20
        stats = {row["database"]: row for row in pgbouncer.show("STATS")}
        assert int(stats["guildhall"]["total_xact_count"]) >= 400
    finally:
        await engine.dispose()


async def test_without_db_pooler_the_strict_pooler_refuses_the_connection(
    pg_primary: PostgresServer, pgbouncer: PgBouncer
) -> None:
    """The control: the direct mode's startup parameters are what such a pooler refuses, so the
    test above would fail if DB_POOLER=transaction still sent them."""
    await create_database(pg_primary)
    settings = pooled_settings(pgbouncer, pg_primary).model_copy(update={"db_pooler": "none"})
    engine = create_engine(settings)
    try:
        with pytest.raises(Exception, match="unsupported startup parameter"):
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    finally:
        await engine.dispose()


def test_no_session_scoped_advisory_lock_in_the_code() -> None:
    """Behind a transaction-mode pooler a session advisory lock stays on the server connection
    after COMMIT and is then held for whichever client gets that connection next. Only the
    transaction-scoped ones (pg_advisory_xact_lock, pg_try_advisory_xact_lock) may be used."""
    session_lock = re.compile(r"pg_(try_)?advisory_(lock|unlock|lock_shared|unlock_shared|unlock_all)\b")
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for folder in ("shared", "services", "migrations")
        for path in (ROOT / folder).rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if session_lock.search(line)
    ]
    assert offenders == []
    # The pattern does catch one (the test can fail).
    assert session_lock.search("SELECT pg_advisory_lock(42)") and not session_lock.search("pg_advisory_xact_lock(1)")


def test_api_worker_and_cli_serve_through_a_transaction_mode_pooler(
    pg_primary: PostgresServer, pgbouncer: PgBouncer, redis_server: RedisServer, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        **PROCESS_ENV,
        "DATABASE_URL": pgbouncer.url("guildhall"),
        "DATABASE_DIRECT_URL": pg_primary.url("guildhall"),
        "DB_POOLER": "transaction",
        "REDIS_URL": redis_server.url,
        "DB_LOCK_TIMEOUT_MS": str(LOCK_TIMEOUT_MS),
        "DB_STATEMENT_TIMEOUT_MS": "60000",
        "DB_POOL_SIZE": "4",
    }
    prepare_database(env, "pooled-admin")  # migrate (direct), create-user (through the pooler)
    api, base_url = guildhall_api(env, tmp_path)
    worker = worker_service(env, tmp_path, "short", redis_server.url)
    api.start()
    worker.start()
    try:
        with httpx.Client(base_url=base_url, timeout=30) as client:
            token = client.post("/api/v1/auth/token", data={"username": "pooled-admin", "password": PASSWORD})
            assert token.status_code == 200, token.text
            client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
            teams = [client.post("/api/v1/teams", json={"name": name}).json()["id"] for name in ("Home", "Away")]
            heroes = [
                {"name": f"hero {i}", "secret_identity": f"s{i}", "age": 30, "power_level": 40, "team_id": teams[0]}
                for i in range(40)
            ]
            created = client.post("/api/v1/heroes/batch", json={"heroes": heroes})
            assert created.status_code == 201, created.text
            hero_ids = created.json()["ids"]
            post = client.post("/api/v1/posts", json={"title": "pooled", "content": "c", "status": "published"})
            assert post.status_code == 201, post.text
            post_id = post.json()["id"]
            headers = dict(client.headers)

        def request(i: int) -> tuple[str, int]:
            kind = ("post", "team", "list", "comment", "transfer")[i % 5]
            with httpx.Client(base_url=base_url, headers=headers, timeout=30) as session:
                if kind == "post":
                    response = session.post(
                        "/api/v1/posts", json={"title": f"p{i}", "content": "x", "status": "published"}
                    )
                elif kind == "team":
                    response = session.get(f"/api/v1/teams/{teams[0]}", params={"include": "heroes.items"})
                elif kind == "list":
                    response = session.get("/api/v1/posts", params={"limit": 20})
                elif kind == "comment":
                    response = session.post(f"/api/v1/posts/{post_id}/comments", json={"content": f"comment {i}"})
                else:
                    hero = hero_ids[(i // 5) % len(hero_ids)]
                    response = session.post(
                        f"/api/v1/heroes/{hero}/transfer", json={"to_team_id": teams[(i // 5) % 2 ^ 1]}
                    )
            return kind, response.status_code

        with ThreadPoolExecutor(AT_ONCE) as pool:
            outcomes = list(pool.map(request, range(REQUESTS)))
        by_status = Counter(status for _, status in outcomes)
        # A transfer to the team the hero is on already is a 409 the client can explain; nothing else.
        assert set(by_status) <= {200, 201, 409}, (by_status, Counter(o for o in outcomes if o[1] >= 500))
        assert all(status != 409 or kind == "transfer" for kind, status in outcomes)
        transfers = sum(1 for kind, status in outcomes if kind == "transfer" and status == 200)
        comments = sum(1 for kind, status in outcomes if kind == "comment" and status == 201)
        assert comments == REQUESTS // 5

        # The worker, through the same pooler, decides every comment and audits every transfer once.
        direct = pg_primary.url("guildhall")
        wait_until(
            lambda: (
                count(direct, "SELECT count(*) FROM comment WHERE moderation_state = 'pending'") == 0
                and count(direct, "SELECT count(*) FROM transfer_log") >= transfers
            ),
            timeout=90,
            what="the worker to moderate every comment and audit every transfer",
        )
        assert count(direct, "SELECT count(*) FROM transfer_log") == transfers

        # The CLI reads the queues and the database through the pooler too.
        queue = subprocess.run(
            [executable("guildhall"), "queue", "--json"], env=env, capture_output=True, text=True, timeout=60
        )
        assert queue.returncode == 0, queue.stderr

        # A request blocked by a row lock held elsewhere answers 503 at its lock bound, through the pooler.
        with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
            blocked = asyncio.run(held_lock_request(direct, client, hero_ids[0]))
        response, elapsed = blocked
        assert response.status_code == 503, response.text
        assert "lock" in response.json()["detail"] and "Retry-After" in response.headers
        # Far under the statement bound (60 s): the lock bound (0.5 s) is what ended it.
        assert elapsed < 10, elapsed

        # Nothing left behind in any server session: no advisory lock, no prepared statement.
        assert count(direct, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'") == 0
        pools = [row for row in pgbouncer.show("POOLS") if row["database"] == "guildhall"]
        server_side = ("sv_active", "sv_idle", "sv_used", "sv_tested", "sv_login")
        assert sum(int(row[column]) for row in pools for column in server_side) <= 4
        assert api.alive() and worker.alive()
    finally:
        worker.stop()
        api.stop()


async def held_lock_request(direct_url: str, client: httpx.Client, hero_id: int) -> tuple[httpx.Response, float]:
    """PATCH a hero while another session holds its row lock; the response and how long it took."""
    holder = await asyncpg.connect(direct_url.replace("+asyncpg", ""))
    try:
        async with holder.transaction():
            await holder.execute("SELECT 1 FROM hero WHERE id = $1 FOR UPDATE", hero_id)
            started = time.monotonic()
            response = await asyncio.to_thread(client.patch, f"/api/v1/heroes/{hero_id}", json={"power_level": 41})
            return response, time.monotonic() - started
    finally:
        await holder.close()
