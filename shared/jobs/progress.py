"""Progress of a running job, kept beside arq's own keys: `guildhall:progress:<job_id>`
holds JSON `{"done": n, "total": m}` (readable by any Redis client), for an hour."""

import json
from typing import Any

from redis.asyncio import Redis

PROGRESS_PREFIX = "guildhall:progress:"
PROGRESS_TTL_SECONDS = 3600


async def report(redis: Redis, job_id: str, done: int, total: int) -> None:
    await redis.set(f"{PROGRESS_PREFIX}{job_id}", json.dumps({"done": done, "total": total}), ex=PROGRESS_TTL_SECONDS)


async def read(redis: Redis, job_id: str) -> dict[str, Any] | None:
    raw = await redis.get(f"{PROGRESS_PREFIX}{job_id}")
    return json.loads(raw) if raw else None
