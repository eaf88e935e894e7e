"""A minimal HTTP/1.1 client for the open-loop generator: keep-alive connections on asyncio
streams, prebuilt request bytes, and a response parser that reads the status line, the headers
and a Content-Length body (what uvicorn sends for a JSON response).

Why not httpx: the generator shares the machine's two cores with the app, its worker and
PostgreSQL, so every millisecond of client CPU per request is taken from what it measures.
httpx (through httpcore) spent about a millisecond of CPU per request here even after the
sniffio and pool-scan fixes in bench/api/client.py, and at 200 requests/s the generator fell
hundreds of milliseconds behind its schedule. This client does one write and two reads per
request. It supports only what the benchmark sends (POST with a JSON body to one host)."""

import asyncio
import contextlib
import json
import socket
from dataclasses import dataclass
from typing import Self
from urllib.parse import urlsplit

MAX_HEADER_BYTES = 64 * 1024
# An idle connection is not reused after this long: the server closes keep-alive connections idle
# for HTTP_KEEP_ALIVE_SECONDS (5 s by default), and a request written into one it just closed fails.
KEEPALIVE_EXPIRY_SECONDS = 2.0


class ProtocolError(Exception):
    """The server answered something this client does not read (no Content-Length, say)."""


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes

    @property
    def is_success(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> object:
        return json.loads(self.body)


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = 0.0  # loop time it was last given back

    async def exchange(self, request: bytes) -> tuple[Response, bool]:
        """Send one request, read its response; whether the connection may be reused."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        if len(head) > MAX_HEADER_BYTES:
            raise ProtocolError("response headers too long")
        status_line, *header_lines = head[:-4].split(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        length: int | None = None
        keep_alive = True
        for line in header_lines:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                keep_alive = False
            elif name == b"transfer-encoding":
                raise ProtocolError("chunked responses are not supported")
        if length is None:
            raise ProtocolError("a response without Content-Length")
        body = await self.reader.readexactly(length) if length else b""
        return Response(status, body), keep_alive

    def close(self) -> None:
        self.writer.close()


class RawClient:
    """Keep-alive connections to one server, each carrying one request at a time; callers that
    need a bound on requests in flight take `reserve()` first. A failed request closes its
    connection; the next one opens a new one."""

    def __init__(self, base_url: str, headers: dict[str, str], limit: int, timeout: float) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"RawClient speaks plain http to one host, not {base_url!r}")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.base_path = parts.path.rstrip("/")
        fixed = {"Host": f"{self.host}:{self.port}", "Content-Type": "application/json", **headers}
        self.fixed_headers = "".join(f"{name}: {value}\r\n" for name, value in fixed.items())
        self.limit = limit
        self.timeout = timeout
        self.idle: list[Connection] = []
        self.in_flight = 0

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        for connection in self.idle:
            connection.close()
        self.idle.clear()

    def reserve(self) -> bool:
        """Count one more request in flight if there is room (release it when it is done);
        taken before its task starts, so a burst of launches cannot overshoot the limit."""
        if self.in_flight >= self.limit:
            return False
        self.in_flight += 1
        return True

    def release(self) -> None:
        self.in_flight -= 1

    def request_bytes(self, path: str, payload: object) -> bytes:
        body = json.dumps(payload, separators=(",", ":")).encode()
        head = f"POST {self.base_path}{path} HTTP/1.1\r\n{self.fixed_headers}Content-Length: {len(body)}\r\n\r\n"
        return head.encode() + body

    async def post_json(self, path: str, payload: object) -> Response:
        """POST `payload` as JSON; raises OSError, asyncio.IncompleteReadError, TimeoutError or
        ProtocolError when no response is read (the connection is then dropped)."""
        request = self.request_bytes(path, payload)
        connection = self._reusable() or await self._connect()
        try:
            async with asyncio.timeout(self.timeout):
                response, keep_alive = await connection.exchange(request)
        except BaseException:
            connection.close()
            raise
        if keep_alive:
            connection.idle_since = asyncio.get_running_loop().time()
            self.idle.append(connection)
        else:
            connection.close()
        return response

    def _reusable(self) -> Connection | None:
        """The most recently used idle connection, unless the server may have closed it by now;
        idle ones past KEEPALIVE_EXPIRY_SECONDS are closed on the way."""
        now = asyncio.get_running_loop().time()
        while self.idle:
            connection = self.idle.pop()
            if now - connection.idle_since < KEEPALIVE_EXPIRY_SECONDS:
                return connection
            connection.close()
        return None

    async def _connect(self) -> Connection:
        async with asyncio.timeout(self.timeout):
            reader, writer = await asyncio.open_connection(self.host, self.port)
        with contextlib.suppress(OSError):  # Nagle off: a request is one write, answered at once
            writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return Connection(reader, writer)
