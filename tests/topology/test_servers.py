"""The topology infrastructure itself (tests/topology/servers.py): PgBouncer pools in transaction
mode and knows only the databases it was given, the replica applies commits after its delay, and
Sentinel moves the master both on request and when the master dies."""

import time

import asyncpg
import pytest
import redis

from tests.faults.conftest import PostgresServer
from tests.topology.conftest import DATABASE
from tests.topology.servers import HOST, PgBouncer, SentinelCluster, TcpProxy, psql, role, wait_replayed


async def connect(port: int, database: str) -> asyncpg.Connection:
    # No statement cache: in transaction mode a named prepared statement may land on another server.
    return await asyncpg.connect(host=HOST, port=port, user="postgres", database=database, statement_cache_size=0)


async def test_pgbouncer_pools_in_transaction_mode_and_refuses_a_database_it_does_not_list(
    pg_primary: PostgresServer, pgbouncer: PgBouncer
) -> None:
    admin = await connect(pg_primary.port, "postgres")
    try:
        await admin.execute(f"CREATE DATABASE {DATABASE}")
    finally:
        await admin.close()

    connection = await connect(pgbouncer.port, DATABASE)
    try:
        async with connection.transaction():
            assert await connection.fetchval("SELECT $1::int + 1", 41) == 42
        assert await connection.fetchval("SELECT current_database()") == DATABASE
    finally:
        await connection.close()
    pool = next(row for row in pgbouncer.show("POOLS") if row["database"] == DATABASE)
    assert pool["pool_mode"] == "transaction"
    assert int(pool["sv_idle"]) + int(pool["sv_used"]) == 1  # the server connection it opened, now free

    with pytest.raises(asyncpg.PostgresError, match="no such database: postgres"):
        await connect(pgbouncer.port, "postgres")


def test_a_commit_reaches_the_delayed_replica_after_its_delay_not_before(
    pg_primary: PostgresServer, pg_replica: PostgresServer
) -> None:
    assert psql(pg_replica.port, "postgres", "SELECT pg_is_in_recovery() AS standby") == [{"standby": "t"}]
    psql(pg_primary.port, "postgres", "CREATE TABLE probe AS SELECT 42 AS answer")
    committed = time.monotonic()
    assert psql(pg_replica.port, "postgres", "SELECT to_regclass('probe') IS NULL AS absent") == [{"absent": "t"}]

    wait_replayed(pg_primary, pg_replica, timeout=10)
    elapsed = time.monotonic() - committed
    assert psql(pg_replica.port, "postgres", "SELECT answer FROM probe") == [{"answer": "42"}]
    assert 0.8 < elapsed < 5, f"replayed after {elapsed:.2f} s with a 1 s apply delay"


def served_by(client: redis.Redis) -> int:
    """The port of the node this client's connection reaches."""
    return int(client.config_get("port")["port"])


def test_a_sentinel_failover_moves_the_master_and_a_proxy_can_follow_it(sentinel_cluster: SentinelCluster) -> None:
    cluster = sentinel_cluster
    old = cluster.master
    new = cluster.failover()
    assert new is not old
    assert cluster.master_address() == (HOST, new.port)
    with redis.Redis.from_url(cluster.url) as client:
        assert client.set("key", "on the new master")
        assert client.wait(1, 5000) == 1  # the demoted master replicates from it

    # One address in front of the nodes, still on the old master: moving it moves new connections only.
    with TcpProxy(HOST, old.port) as proxy, redis.Redis(port=proxy.port) as held:
        assert served_by(held) == old.port
        proxy.retarget(HOST, new.port)
        assert served_by(held) == old.port
        with pytest.raises(redis.ReadOnlyError):
            held.set("key", "on a replica")
        with redis.Redis(port=proxy.port) as fresh:
            assert served_by(fresh) == new.port
            assert fresh.set("key", "through the proxy")


def test_killing_the_master_promotes_the_replica_and_the_killed_node_rejoins_as_its_replica(
    sentinel_cluster: SentinelCluster,
) -> None:
    cluster = sentinel_cluster
    with redis.Redis.from_url(cluster.url) as client:
        client.set("before", "1")
        assert client.wait(1, 5000) == 1

    killed = cluster.kill_master()
    promoted = cluster.master
    assert promoted is not killed
    with redis.Redis.from_url(cluster.url) as client:
        assert client.get("before") == b"1"
        assert client.set("after", "2")

    cluster.restart(killed)
    assert role(killed.port) == "slave"
    with redis.Redis(port=killed.port) as replica:
        assert replica.get("after") == b"2"
