"""Liveness and readiness probes."""

import asyncio
import logging

from fastapi import APIRouter, Request, Response
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

logger = logging.getLogger(__name__)

PROBE_TIMEOUT = 2.0

router = APIRouter(tags=["health"])
# Probes are asked at the root (/healthz), not under the API's prefix (services.api.routes).
AT_ROOT = True


@router.get("/healthz", summary="Liveness probe")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers; says nothing about PostgreSQL or Redis."""
    return {"status": "ok"}


async def _probe_postgres(request: Request) -> str:
    try:
        async with asyncio.timeout(PROBE_TIMEOUT), request.app.state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError) as exc:  # OSError covers TimeoutError and refused connections
        logger.warning("readyz: PostgreSQL probe failed: %r", exc)
        return "unavailable"
    return "ok"


async def _probe_redis(request: Request) -> str:
    try:
        async with asyncio.timeout(PROBE_TIMEOUT):
            await request.app.state.redis.ping()
    except (RedisError, OSError) as exc:
        logger.warning("readyz: Redis probe failed: %r", exc)
        return "unavailable"
    return "ok"


@router.get(
    "/readyz", summary="Readiness probe", responses={503: {"description": "PostgreSQL or Redis is unreachable"}}
)
async def readyz(request: Request, response: Response) -> dict[str, str]:
    """Readiness: 200 when PostgreSQL and Redis both answer, 503 naming the one that did not; with a
    read replica configured, whether reads go to it (`ok`) or to the primary (`skipped`)."""
    postgres, redis = await asyncio.gather(_probe_postgres(request), _probe_redis(request))
    if "unavailable" in (postgres, redis):
        response.status_code = 503
    states = {"postgres": postgres, "redis": redis}
    # A replica's state never makes the process unready: reads go to the primary without it.
    if (replica := getattr(request.app.state, "replica", None)) is not None:
        states["replica"] = "ok" if replica.fresh else "skipped"
    return states
