"""The real app (its own lifespan: engine, Redis pool) served by uvicorn in this event loop, on a
free port, for tests that need a socket: browsers, raw HTTP."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from sqlalchemy.engine import URL

from services.api.main import create_app
from shared.settings import get_settings
from tests.support.network import free_port


@asynccontextmanager
async def serve_app(database_url: URL, redis_url: str, **settings: Any) -> AsyncIterator[int]:
    """Serve the app on the test database and Redis (and `settings` on top); yields its port."""
    configured = get_settings().model_copy(
        update={"database_url": database_url.render_as_string(hide_password=False), "redis_url": redis_url, **settings}
    )
    port = free_port()
    config = uvicorn.Config(
        create_app(configured), host="127.0.0.1", port=port, log_level="warning", server_header=False
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(15):
            while not server.started:  # noqa: ASYNC110  (uvicorn exposes a flag, not an event)
                await asyncio.sleep(0.05)
        yield port
    finally:
        server.should_exit = True
        await task
