"""Reads on a streaming replica (DATABASE_READ_URL): a replica of the test's own cluster
(`pg_basebackup -R`), delayed by `recovery_min_apply_delay = '1s'` so its lag is certain.

What must hold: a client never misses its own write (POST, then GET of that post: 200 every
time); the public lists do read the replica while it is fresh; a replica past
DB_REPLICA_MAX_LAG_SECONDS, or down, is skipped and the primary answers: never a 5xx.
"""

import asyncio
import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from services.api.main import create_app
from shared.settings import Settings
from tests.e2e.conftest import PASSWORD, PROCESS_ENV, SECRET_KEY
from tests.faults.conftest import PostgresServer, RedisServer, prepare_database
from tests.topology.servers import wait_replayed

ADMIN = "replica-admin"


def settings_for(primary: PostgresServer, replica: PostgresServer, redis: RedisServer, **extra: object) -> Settings:
    return Settings(
        database_url=primary.url("guildhall"),
        database_read_url=replica.url("guildhall"),
        redis_url=redis.url,
        environment="test",
        secret_key=SECRET_KEY,
        caller_cache_seconds=0,
        write_limits={},  # one admin writes the test's posts as fast as it can
        **extra,  # type: ignore[arg-type]
    )


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient, httpx.AsyncClient]]:
    """The real app with its lifespan (so its replica monitor runs); an admin client and an anonymous one."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://api") as admin,
            httpx.AsyncClient(transport=transport, base_url="http://api") as anonymous,
        ):
            token = await admin.post("/api/v1/auth/token", data={"username": ADMIN, "password": PASSWORD})
            admin.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
            yield app, admin, anonymous


def migrated(primary: PostgresServer, replica: PostgresServer, redis: RedisServer) -> None:
    env = {**os.environ, **PROCESS_ENV, "DATABASE_URL": primary.url("guildhall"), "REDIS_URL": redis.url}
    prepare_database(env, ADMIN)
    wait_replayed(primary, replica, timeout=30)


async def publish(admin: httpx.AsyncClient, title: str) -> int:
    response = await admin.post("/api/v1/posts", json={"title": title, "content": "c", "status": "published"})
    assert response.status_code == 201, response.text
    post_id: int = response.json()["id"]
    return post_id


async def public_titles(anonymous: httpx.AsyncClient) -> set[str]:
    response = await anonymous.get("/api/v1/posts", params={"limit": 100})
    assert response.status_code == 200, response.text
    return {post["title"] for post in response.json()["items"]}


async def test_a_client_reads_its_own_write_while_public_lists_read_the_delayed_replica(
    pg_primary: PostgresServer, pg_replica: PostgresServer, redis_server: RedisServer
) -> None:
    migrated(pg_primary, pg_replica, redis_server)
    async with serving(settings_for(pg_primary, pg_replica, redis_server)) as (app, admin, anonymous):
        assert (await anonymous.get("/readyz")).json()["replica"] == "ok"
        missing_from_the_list = 0
        for i in range(20):
            post_id = await publish(admin, f"own write {i}")
            read = await admin.get(f"/api/v1/posts/{post_id}")  # by id: the primary, at once
            assert read.status_code == 200, read.text
            anonymous_read = await anonymous.get(f"/api/v1/posts/{post_id}")
            assert anonymous_read.status_code == 200, anonymous_read.text
            # The public list came from the replica, a second behind: the new post is not there yet.
            missing_from_the_list += f"own write {i}" not in await public_titles(anonymous)
        assert missing_from_the_list >= 15  # not a coin toss: each list is read within the 1 s delay
        assert app.state.replica.reads >= 20
        # The signed-in author's own list reads the primary: their post is there at once.
        mine = await admin.get("/api/v1/posts", params={"limit": 100})
        assert "own write 19" in {post["title"] for post in mine.json()["items"]}
        # The replica catches up: the public list shows every post.
        wait_replayed(pg_primary, pg_replica, timeout=30)
        assert {f"own write {i}" for i in range(20)} <= await public_titles(anonymous)
        for path in ("/api/v1/teams", "/api/v1/teams/top", "/api/v1/heroes", "/api/v1/categories/tree"):
            assert (await anonymous.get(path)).status_code == 200, path


async def test_a_replica_past_its_lag_bound_is_skipped(
    pg_primary: PostgresServer, pg_replica: PostgresServer, redis_server: RedisServer
) -> None:
    migrated(pg_primary, pg_replica, redis_server)
    # The replica is always ~1 s behind while writes arrive: over a 0.5 s bound it must be skipped.
    settings = settings_for(pg_primary, pg_replica, redis_server, db_replica_max_lag_seconds=0.5)
    async with serving(settings) as (app, admin, anonymous):
        assert app.state.replica.fresh
        stop = asyncio.Event()

        async def keep_writing() -> None:
            i = 0
            while not stop.is_set():
                await publish(admin, f"background {i}")
                i += 1
                await asyncio.sleep(0.05)

        writer = asyncio.create_task(keep_writing())
        try:
            for _ in range(100):
                if not app.state.replica.fresh:
                    break
                await asyncio.sleep(0.1)
            assert not app.state.replica.fresh, app.state.replica.lag_seconds
            assert (await anonymous.get("/readyz")).json() == {"postgres": "ok", "redis": "ok", "replica": "skipped"}
            served_by_replica = app.state.replica.reads
            post_id = await publish(admin, "fresh from the primary")
            assert "fresh from the primary" in await public_titles(anonymous)
            assert app.state.replica.reads == served_by_replica
            assert (await anonymous.get(f"/api/v1/posts/{post_id}")).status_code == 200
        finally:
            stop.set()
            await writer
        # Once it has caught up, the replica serves again.
        wait_replayed(pg_primary, pg_replica, timeout=30)
        for _ in range(100):
            if app.state.replica.fresh:
                break
            await asyncio.sleep(0.1)
        assert app.state.replica.fresh


async def test_a_replica_that_goes_down_is_never_a_5xx(
    pg_primary: PostgresServer, pg_replica: PostgresServer, redis_server: RedisServer
) -> None:
    migrated(pg_primary, pg_replica, redis_server)
    async with serving(settings_for(pg_primary, pg_replica, redis_server)) as (app, admin, anonymous):
        await publish(admin, "before the outage")
        statuses: list[int] = []
        stop = threading.Event()

        async def read_all_the_time() -> None:
            while not stop.is_set():
                for path in ("/api/v1/posts", "/api/v1/teams", "/api/v1/categories/tree", "/api/v1/heroes"):
                    statuses.append((await anonymous.get(path)).status_code)

        # The pooled replica connections are warm, so the first reads after the stop meet dead
        # connections, not a refused connect: those reads must be run again on the primary.
        readers = [asyncio.create_task(read_all_the_time()) for _ in range(4)]
        await asyncio.sleep(0.5)
        assert app.state.replica.reads > 0
        await asyncio.to_thread(pg_replica.stop, "immediate")
        await asyncio.sleep(2.0)
        stop.set()
        await asyncio.gather(*readers)
        assert set(statuses) == {200}, sorted(set(statuses))
        assert not app.state.replica.fresh
        assert (await anonymous.get("/readyz")).json()["replica"] == "skipped"
        assert (await anonymous.get("/readyz")).status_code == 200
        assert "before the outage" in await public_titles(anonymous)
