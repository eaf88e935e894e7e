"""Redis failover as the clients see it, on servers of the test's own:

- a managed Redis that fails over behind ONE address (REDIS_URL): the node a client is connected
  to is demoted (REPLICAOF) and the address moves to the new master (a TCP proxy stands for the
  provider's endpoint). The client must drop its connections on READONLY and reconnect;
- Redis Sentinel (REDIS_SENTINELS, REDIS_SENTINEL_MASTER): through a SENTINEL FAILOVER and a
  kill -9 of the master, the clients find the new master themselves, with the timeouts and
  retries of a URL's client (arq's own sentinel path drops them).

The whole service through these faults, processes and all: tests/topology/test_topology.py.
"""

import asyncio
import time

import pytest
from arq import ArqRedis
from redis.asyncio import ConnectionPool, Redis
from redis.exceptions import ConnectionError, ReadOnlyError, RedisError

from guildhall.bootstrap import ServiceUnreachable, check_redis
from shared.jobs.enqueue import enqueue_unique
from shared.jobs.queues import Queue, create_job_pool, create_worker_pool
from shared.redis_connect import RedisTarget
from shared.settings import Settings
from tests.faults.conftest import RedisServer
from tests.topology.servers import SentinelCluster, TcpProxy


async def enqueue(pool: ArqRedis, job_id: str) -> bool:
    """As the API enqueues after a commit (shared.jobs.enqueue: one script, no WATCH)."""
    return await enqueue_unique(pool, "process_outbox_message", job_id=job_id, queue=Queue.short, message_id=1)


def demote(node: RedisServer, to: RedisServer) -> None:
    """What a provider's failover does to the old master: it becomes the new master's replica."""
    node.client().execute_command("REPLICAOF", "127.0.0.1", str(to.port))


async def test_a_demoted_node_behind_one_address_is_left_for_the_new_master(
    redis_server: RedisServer, second_redis_server: RedisServer
) -> None:
    old, new = redis_server, second_redis_server
    with TcpProxy("127.0.0.1", old.port).start() as endpoint:
        worker = create_worker_pool(endpoint.url)
        api = create_job_pool(endpoint.url)
        # The control: redis-py's own pool, with the same retries, keeps its connection to the old node.
        plain = Redis.from_pool(ConnectionPool.from_url(endpoint.url, retry_on_error=[ConnectionError]))
        try:
            for client in (worker, api, plain):
                await client.set("before", "1")  # each holds a pooled connection to the old master now
            endpoint.retarget("127.0.0.1", new.port)
            demote(old, new)

            await worker.set("after:worker", "1")
            assert await enqueue(api, "after-failover")
            with pytest.raises(ReadOnlyError):
                await plain.set("after:plain", "1")
        finally:
            for client in (worker, api, plain):
                await client.aclose()
    assert new.client().get("after:worker") == b"1"
    assert new.client().exists("arq:job:after-failover") == 1


async def test_sentinel_clients_follow_a_failover_and_a_killed_master(sentinel_cluster: SentinelCluster) -> None:
    settings = Settings(
        redis_url="redis://ignored-with-sentinels:1/0",
        redis_sentinels=sentinel_cluster.sentinels,
        redis_sentinel_master=sentinel_cluster.name,
    )
    target = RedisTarget.from_settings(settings)
    assert target.sentinels and target.master == sentinel_cluster.name
    await check_redis(target)
    worker = create_worker_pool(target)
    api = create_job_pool(target)
    try:
        for fault in ("failover", "kill"):
            await worker.set(f"before:{fault}", "1")
            assert await enqueue(api, f"before-{fault}")
            old = sentinel_cluster.master
            new = sentinel_cluster.failover() if fault == "failover" else sentinel_cluster.other(old)
            if fault == "kill":
                sentinel_cluster.kill_master()
            # The worker's client rides the switch inside its command retries, or fails a poll or two
            # (the resilient loop backs off and retries): bounded, never for ever.
            deadline = time.monotonic() + 30
            while True:
                try:
                    await worker.set(f"after:{fault}", "1")
                    assert await enqueue(api, f"after-{fault}")
                    break
                except RedisError:
                    assert time.monotonic() < deadline, f"no write reached the new master after the {fault}"
                    await asyncio.sleep(0.1)
            assert new.client().get(f"after:{fault}") == b"1"
            assert new.client().exists(f"arq:job:after-{fault}") == 1
            if fault == "failover":
                # Nothing acknowledged before a planned failover is lost.
                assert new.client().get("before:failover") == b"1"
    finally:
        await worker.aclose()
        await api.aclose()


async def test_sentinels_that_answer_nothing_are_a_one_line_error() -> None:
    target = RedisTarget(url="redis://127.0.0.1:1/0", sentinels=(("127.0.0.1", 1),), master="guildhall")
    with pytest.raises(
        ServiceUnreachable, match=r"master 'guildhall' of sentinels 127\.0\.0\.1:1 \(set REDIS_SENTINELS\)"
    ):
        await check_redis(target)


def test_sentinels_need_a_master_name() -> None:
    with pytest.raises(ValueError, match="REDIS_SENTINEL_MASTER must be set"):
        Settings(redis_sentinels="127.0.0.1:26379")
    with pytest.raises(ValueError, match="redis_sentinels"):
        Settings(redis_sentinels="127.0.0.1", redis_sentinel_master="guildhall")
