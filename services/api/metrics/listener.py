"""/metrics on a separate address (METRICS_LISTEN), for a scraper on an internal network: a minimal
HTTP/1.1 responder on asyncio, apart from the API's port and its middleware."""

import asyncio
import contextlib
import logging

from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST

from services.api.metrics.registry import render
from shared.settings import Settings

logger = logging.getLogger(__name__)


class MetricsListener:
    """/metrics on a separate address (METRICS_LISTEN), for a scraper on an internal network.
    A minimal HTTP/1.1 responder on asyncio: GET /metrics or 404, one request per connection."""

    def __init__(self, app: FastAPI, address: str) -> None:
        self.app = app
        host, _, port = address.rpartition(":")
        self.host, self.port = host or "127.0.0.1", int(port)
        self.server: asyncio.Server | None = None

    async def start(self) -> None:
        # reuse_port: every API process listens on the one address; any of them answers with the sum.
        self.server = await asyncio.start_server(self._serve, self.host, self.port, reuse_port=True)
        logger.info("metrics listening on http://%s:%s/metrics", self.host, self.port)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            request_line = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass  # headers are not needed
            method, path, *_ = [*request_line.decode("latin-1").split(" "), "", ""]
            if method == "GET" and path.split("?")[0] == "/metrics":
                body, status, content_type = await render(self.app), "200 OK", CONTENT_TYPE_LATEST
            else:
                body, status, content_type = b"not found\n", "404 Not Found", "text/plain"
            head = f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
            writer.write(head.encode() + b"Connection: close\r\n\r\n" + body)
            await writer.drain()
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


def listener_for(app: FastAPI, settings: Settings) -> MetricsListener | None:
    return MetricsListener(app, settings.metrics_listen) if settings.metrics_listen else None
