"""The API application: factory, lifespan, and health probes.

Run with `uvicorn services.api.main:app`. Domain routers are added here as they are written.
"""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request, Response
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from shared.db import create_engine, create_session_factory
from shared.settings import get_settings

logger = logging.getLogger(__name__)

PROBE_TIMEOUT = 2.0

health = APIRouter(tags=["health"])


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    engine = create_engine(settings)
    app.state.engine = engine
    app.state.session_factory = create_session_factory(engine)
    app.state.redis = Redis.from_url(
        settings.redis_url, socket_connect_timeout=PROBE_TIMEOUT, socket_timeout=PROBE_TIMEOUT
    )
    try:
        yield
    finally:
        await app.state.redis.aclose()
        await engine.dispose()


@health.get("/healthz")
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


@health.get("/readyz")
async def readyz(request: Request, response: Response) -> dict[str, str]:
    """Readiness: 200 when PostgreSQL and Redis both answer, 503 naming the one that did not."""
    postgres, redis = await asyncio.gather(_probe_postgres(request), _probe_redis(request))
    if "unavailable" in (postgres, redis):
        response.status_code = 503
    return {"postgres": postgres, "redis": redis}


def create_app() -> FastAPI:
    app = FastAPI(title="Guildhall", lifespan=lifespan)
    app.include_router(health)
    return app


app = create_app()
