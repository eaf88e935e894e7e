"""Bounds on a request's head (request line and headers) that uvicorn itself does not set.

uvicorn's default HTTP implementation (httptools, the C parser llhttp) has neither a size limit
on the head nor a timeout for receiving one: llhttp accepts headers of any length, and httptools
buffers a header's value whole before handing it on, so a 64 MiB header was read into memory and
answered 200. uvicorn's only timer, `timeout_keep_alive`, is armed after a response and disarmed
by the next byte received, so a connection that never completes its head (or never sends a byte
at all) stays open for good. h11, the other implementation, bounds the head's size
(`h11_max_incomplete_event_size`, answered 400), but it has no head timeout either and its
pure-Python parser costs more on every request. Hence this small subclass of uvicorn's httptools
protocol, which `guildhall api` (services.api.serve) selects:

- MAX_HEADER_BYTES: a head longer than this is refused with 431 (problem+json, then the
  connection is closed) as soon as the bytes received show it: the parser never sees the excess.
- HEADER_TIMEOUT_SECONDS: from a connection's opening, and from the first byte of each later
  request on it, the whole head must arrive within this time. Past it the connection is closed,
  after a 408 if part of a head had arrived.

Idle keep-alive connections are uvicorn's `timeout_keep_alive` (HTTP_KEEP_ALIVE_SECONDS).
Normal requests pay a few attribute updates per request (about 1 us, against the hundreds of us
the app takes): a deadline moved per head, checked by one lazily re-armed timer per connection.
"""

import asyncio
import json
from http import HTTPStatus
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from shared.settings import get_settings

# The import path uvicorn is given (a string: its worker processes import it themselves).
PROTOCOL = "services.api.http_limits:BoundedHttpToolsProtocol"
END_OF_HEAD = b"\r\n\r\n"


def problem_bytes(status: int, detail: str, default_headers: list[tuple[bytes, bytes]]) -> bytes:
    """A complete HTTP/1.1 response carrying a problem+json body, and `connection: close`. Built here
    rather than by the app: the request never reaches it (its head is refused or incomplete)."""
    phrase = HTTPStatus(status).phrase
    body = json.dumps({"type": "about:blank", "title": phrase, "status": status, "detail": detail}).encode()
    lines = [f"HTTP/1.1 {status} {phrase}".encode()]
    lines += [name + b": " + value for name, value in default_headers]  # server, date
    lines += [
        b"content-type: application/problem+json",
        b"content-length: " + str(len(body)).encode(),
        b"connection: close",
    ]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with the head's size and arrival time bounded."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        settings = get_settings()  # cached: read once per process
        self.max_head_bytes = settings.max_header_bytes
        self.head_timeout = settings.header_timeout_seconds
        # True from the connection's start, and again after each request's last byte, until the
        # next head is complete. Bytes received meanwhile count against the head's limit.
        self.reading_head = True
        self.head_bytes = 0
        # The last chunk of head counted: the end of the head may straddle two reads.
        self.previous_chunk = b""
        # When the head being received must be complete (None: no head under way). One timer per
        # connection checks it, re-armed lazily: a kept-alive connection does not create and cancel
        # a timer for every request, it moves a deadline (a float) and the timer rarely fires.
        self.head_deadline: float | None = None
        self.head_timer: asyncio.TimerHandle | None = None
        # In a body: whether the last read moved it forward, and the bytes of reads since that did not.
        self.body_moved = False
        self.idle_body_bytes = 0

    # --- asyncio.Protocol ---

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # A connection that never sends a byte is also bounded (uvicorn would keep it forever).
        self._start_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.reading_head:
            if self.head_deadline is None:  # the first bytes of a later request on a kept-alive connection
                self._start_head()
            if self.head_bytes + len(data) > self.max_head_bytes and not self._head_ends_within_limit(data):
                self._refuse(
                    HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                    f"The request line and headers exceed {self.max_head_bytes} bytes.",
                )
                return
            self.head_bytes += len(data)
            self.previous_chunk = data
            super().data_received(data)
            return
        # The body. Its bytes are the body limit's business (services.api.limits), but a chunked
        # body may end with trailer fields, which httptools buffers as it does headers: a read that
        # moves no body forward (no body bytes, no chunk) counts against the same limit.
        self.body_moved = False
        super().data_received(data)
        if self.body_moved or self.reading_head:  # reading_head: the message ended in this read
            self.idle_body_bytes = 0
            return
        self.idle_body_bytes += len(data)
        if self.idle_body_bytes > self.max_head_bytes and not self.transport.is_closing():
            self._refuse(
                HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                f"The request's trailer fields exceed {self.max_head_bytes} bytes.",
            )

    # --- httptools parser callbacks ---

    def on_headers_complete(self) -> None:
        self.reading_head = False
        self.idle_body_bytes = 0
        self.head_deadline = None  # the timer, if pending, finds no head and lapses
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self.body_moved = True
        super().on_body(body)

    def on_chunk_header(self) -> None:
        self.body_moved = True

    def on_message_complete(self) -> None:
        # Whatever comes next on this connection is the head of another request.
        self.reading_head = True
        self.head_bytes = 0
        self.previous_chunk = b""
        super().on_message_complete()

    # --- the bounds ---

    def _head_ends_within_limit(self, data: bytes) -> bool:
        """Whether the head ends within this read before the limit is crossed (the rest of the read
        is then body, or the next request). Only reads that would cross the limit get here: a large
        body arriving with its small head in one read, or a head that is too long."""
        room = self.max_head_bytes - self.head_bytes
        return END_OF_HEAD in self.previous_chunk[-3:] + data[:room]

    def _start_head(self) -> None:
        self.head_deadline = self.loop.time() + self.head_timeout
        if self.head_timer is None:
            self.head_timer = self.loop.call_later(self.head_timeout, self._check_head)

    def _cancel_head_timer(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def _check_head(self) -> None:
        self.head_timer = None
        if self.head_deadline is None or self.transport.is_closing():
            return
        left = self.head_deadline - self.loop.time()
        if left > 0:  # a later head than the one this timer was armed for
            self.head_timer = self.loop.call_later(left, self._check_head)
            return
        if self.head_bytes == 0:  # an idle connection: nothing to answer
            self.transport.close()
            return
        self._refuse(HTTPStatus.REQUEST_TIMEOUT, f"The request head did not arrive within {self.head_timeout:g} s.")

    def _refuse(self, status: HTTPStatus, detail: str) -> None:
        in_head = self.reading_head
        self.head_deadline = None
        self._cancel_head_timer()
        self.reading_head = False
        self.logger.warning("%s: %s", status.phrase, detail)
        cycle = self.cycle
        # Answer unless a response is being written on this connection (an earlier request's, for a
        # pipelining client; or, for trailers, the app has started answering): our bytes would
        # corrupt it, so the connection is only closed then.
        if cycle is None or cycle.response_complete or (not in_head and not cycle.response_started):
            self.transport.write(problem_bytes(int(status), detail, self.server_state.default_headers))
        if cycle is not None and not cycle.response_complete:
            # The app's request is over: its `receive` says so and its `send` writes nothing (what
            # uvicorn does when the client goes away).
            cycle.disconnected = True
            cycle.message_event.set()
        self.transport.close()
