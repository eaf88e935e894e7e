"""Fixtures for production-topology tests: a PostgreSQL primary, a delayed streaming replica of it,
PgBouncer in front of it, and a Redis pair under Sentinel. Each is the test's own (free loopback
ports, temporary directories), function-scoped (tests fail over, kill and restart them), and
stopped in a finally whatever the test did."""

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

# The fault tests' fixtures, reused as they are: postgres_server (initdb, start on a free port,
# stop and remove; initdb's wal_level replica and max_wal_senders 10 allow a replica) and
# redis_server (a private redis-server in tmp_path).
from tests.faults.conftest import PostgresServer, RedisServer, postgres_server, redis_server
from tests.support.network import free_port
from tests.topology.servers import PgBouncer, SentinelCluster, cluster_directory, start_replica

__all__ = ["postgres_server", "redis_server"]  # imported to be fixtures here

DATABASE = "guildhall"


@pytest.fixture
def pg_primary(postgres_server: PostgresServer) -> PostgresServer:
    return postgres_server


@pytest.fixture
def pg_replica(pg_primary: PostgresServer) -> Iterator[PostgresServer]:
    """A streaming replica of pg_primary that applies each commit 1 s after the primary made it."""
    replica = start_replica(pg_primary, apply_delay="1s")
    try:
        yield replica
    finally:
        if replica.running():
            with contextlib.suppress(subprocess.CalledProcessError):
                replica.stop("immediate")
        shutil.rmtree(replica.directory, ignore_errors=True)


@pytest.fixture
def pgbouncer(pg_primary: PostgresServer) -> Iterator[PgBouncer]:
    """PgBouncer (transaction mode) in front of pg_primary for database `guildhall` only; the test
    creates that database."""
    bouncer = PgBouncer(
        server_port=pg_primary.port, databases=(DATABASE,), directory=cluster_directory("guildhall-pgb-")
    )
    try:
        bouncer.start()
        yield bouncer
    finally:
        bouncer.stop()
        shutil.rmtree(bouncer.directory, ignore_errors=True)


@pytest.fixture
def second_redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """Another private redis-server, beside redis_server (say, the node a failover moves to)."""
    directory = tmp_path / "second-redis"
    directory.mkdir()
    server = RedisServer(free_port(), directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sentinel_cluster(tmp_path: Path) -> Iterator[SentinelCluster]:
    # tmp_path will do: Redis and the sentinels run as the test's own user.
    cluster = SentinelCluster(tmp_path)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
