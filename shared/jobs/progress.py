"""Guildhall's own per-job record beside arq's keys, for the status API and ops views.

`guildhall:job:<job_id>` is a Redis HASH, readable by any client (`HGETALL`):
`started_ms` (epoch ms of the current try's start), `try`, `worker` (the worker's
name), and, for jobs that report it, `done` / `total`. It lives a day.
"""

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

JOB_KEY_PREFIX = "guildhall:job:"
JOB_KEY_TTL_SECONDS = 24 * 3600
REPORT_TIMEOUT_SECONDS = 1.0


def key(job_id: str) -> str:
    return f"{JOB_KEY_PREFIX}{job_id}"


async def started(redis: Redis, job_id: str, *, started_ms: int, job_try: int, worker: str) -> None:
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hset(key(job_id), mapping={"started_ms": started_ms, "try": job_try, "worker": worker})
        pipe.hdel(key(job_id), "done", "total")
        pipe.expire(key(job_id), JOB_KEY_TTL_SECONDS)
        await pipe.execute()


async def report(redis: Redis, job_id: str, done: int, total: int) -> None:
    """Best effort, bounded by REPORT_TIMEOUT_SECONDS: progress is reported from inside a job's
    open transaction, and a Redis outage (where the worker's client retries for as long as it
    lasts) must not keep that transaction, and its row locks, waiting."""
    try:
        async with asyncio.timeout(REPORT_TIMEOUT_SECONDS), redis.pipeline(transaction=True) as pipe:
            pipe.hset(key(job_id), mapping={"done": done, "total": total})
            pipe.expire(key(job_id), JOB_KEY_TTL_SECONDS)
            await pipe.execute()
    except (TimeoutError, RedisError, OSError) as error:
        logger.warning("progress of job %s not recorded (%d/%d): %r", job_id, done, total, error)


async def read(redis: Redis, job_id: str) -> dict[str, Any]:
    # redis-py types its commands for both clients (a value or an awaitable); the asyncio one awaits.
    raw = await cast(Awaitable[dict[bytes, bytes]], redis.hgetall(key(job_id)))
    return {k.decode(): int(v) if v.isdigit() else v.decode() for k, v in raw.items()}


def progress_of(record: dict[str, Any]) -> dict[str, int] | None:
    if "done" in record and "total" in record:
        return {"done": record["done"], "total": record["total"]}
    return None
