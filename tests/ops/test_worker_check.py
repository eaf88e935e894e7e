"""`guildhall worker --check` (the compose health check) reads this host's heartbeat entries."""

import socket

from arq import ArqRedis

from shared.jobs.queues import Queue
from shared.ops.telemetry import WorkerTelemetry, heartbeat
from shared.ops.workers import local_worker_is_up


async def test_a_fresh_heartbeat_on_this_host_is_up_and_a_stopped_one_is_not(job_pool: ArqRedis) -> None:
    host = socket.gethostname()
    assert not await local_worker_is_up(job_pool, Queue.short, host)
    telemetry = WorkerTelemetry(name=f"{host}:4321", queue=Queue.short)
    await heartbeat(job_pool, telemetry)
    assert await local_worker_is_up(job_pool, Queue.short, host)
    assert not await local_worker_is_up(job_pool, Queue.bulk, host)
    assert not await local_worker_is_up(job_pool, Queue.short, "another-host")
    await heartbeat(job_pool, telemetry, state="stopped")
    assert not await local_worker_is_up(job_pool, Queue.short, host)
