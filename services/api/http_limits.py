"""Bounds on what one client may hold of an API process that uvicorn itself does not set.

uvicorn's default HTTP implementation (httptools, the C parser llhttp) has neither a size limit
on the head nor a timeout for receiving one: llhttp accepts headers of any length, and httptools
buffers a header's value whole before handing it on, so a 64 MiB header was read into memory and
answered 200. uvicorn's only timer, `timeout_keep_alive`, is armed after a response and disarmed
by the next byte received, so a connection that never completes its head (or never sends a byte
at all, or stops half-way through its body) stays open for good. h11, the other implementation,
bounds the head's size (`h11_max_incomplete_event_size`, answered 400), but it has no timeouts
either and its pure-Python parser costs more on every request. Hence this small subclass of
uvicorn's httptools protocol, which `guildhall api` (services.api.serve) selects:

- MAX_HEADER_BYTES: a head longer than this is refused with 431 (problem+json, then the
  connection is closed) as soon as the bytes received show it: the parser never sees the excess.
- HEADER_TIMEOUT_SECONDS: from a connection's opening, and from the first byte of each later
  request on it, the whole head must arrive within this time. Past it the connection is closed,
  after a 408 if part of a head had arrived.
- BODY_IDLE_TIMEOUT_SECONDS: while a request's body is being received, the longest silence from
  the client. Past it, 408 (unless the app has started answering) and the connection is closed.
  An idle bound, not a total one: a large upload on a slow link goes on as long as bytes come.
  Time the server itself is not reading does not count (the app has not taken what arrived, or
  has not yet asked for a body the client sent `Expect: 100-continue` for).
- MAX_CONNECTIONS: open connections per process. One more is answered 503 (with Retry-After)
  and closed at once, before it costs a parser's work or a timer.

Idle keep-alive connections are uvicorn's `timeout_keep_alive` (HTTP_KEEP_ALIVE_SECONDS).
Normal requests pay a few attribute updates per request (about 1 us, against the hundreds of us
the app takes): a deadline moved per head and per body read, checked by one lazily re-armed
timer per connection.
"""

import asyncio
import json
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any, ClassVar

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from services.api.security_headers import COMMON_HEADERS
from shared.settings import get_settings

# The import path uvicorn is given (a string: its worker processes import it themselves).
PROTOCOL = "services.api.http_limits:BoundedHttpToolsProtocol"
END_OF_HEAD = b"\r\n\r\n"
# What a client turned away for MAX_CONNECTIONS is told: connections come and go within seconds.
RETRY_AFTER_SECONDS = 1
# Turned-away connections come in floods: say so in the log at most this often, with their count.
TURNED_AWAY_LOG_SECONDS = 10.0


def problem_bytes(
    status: int,
    detail: str,
    default_headers: list[tuple[bytes, bytes]],
    extra_headers: Iterable[tuple[bytes, bytes]] = (),
) -> bytes:
    """A complete HTTP/1.1 response carrying a problem+json body, and `connection: close`. Built here
    rather than by the app: the request never reaches it (its head is refused or incomplete)."""
    phrase = HTTPStatus(status).phrase
    body = json.dumps({"type": "about:blank", "title": phrase, "status": status, "detail": detail}).encode()
    lines = [f"HTTP/1.1 {status} {phrase}".encode()]
    # uvicorn's default headers (date; server unless server_header=False), the app's security headers.
    headers = [*default_headers, *COMMON_HEADERS, *extra_headers]
    lines += [name + b": " + value for name, value in headers]
    lines += [
        b"content-type: application/problem+json",
        b"content-length: " + str(len(body)).encode(),
        b"connection: close",
    ]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with the head's size and arrival time, the body's silences and
    the process's connections bounded."""

    # Open connections of this process (one protocol object each; uvicorn's own set also holds
    # WebSocket ones, and is per server). A class attribute: one process, one event loop.
    open_connections: ClassVar[int] = 0
    turned_away: ClassVar[int] = 0
    turned_away_logged_at: ClassVar[float | None] = None

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
        self.body_idle_timeout = settings.body_idle_timeout_seconds
        self.max_connections = settings.max_connections
        # Whether this connection is in open_connections (released once, however it ends).
        self.counted = False
        # True from the connection's start, and again after each request's last byte, until the
        # next head is complete. Bytes received meanwhile count against the head's limit.
        self.reading_head = True
        self.head_bytes = 0
        # The last chunk of head counted: the end of the head may straddle two reads.
        self.previous_chunk = b""
        # While a head is under way, when it must be complete; while a body is, when the client's
        # silence becomes too long (None: neither). One timer per connection checks it, re-armed
        # lazily: a kept-alive connection does not create and cancel a timer for every request or
        # body read, it moves a deadline (a float) and the timer rarely fires.
        self.deadline: float | None = None
        self.timer: asyncio.TimerHandle | None = None
        # In a body: whether the last read moved it forward, and the bytes of reads since that did not.
        self.body_moved = False
        self.idle_body_bytes = 0

    # --- asyncio.Protocol ---

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # as uvicorn's own: a stream Transport
        super().connection_made(transport)
        cls = BoundedHttpToolsProtocol
        cls.open_connections += 1
        self.counted = True
        if cls.open_connections > self.max_connections:
            self._turn_away()
            return
        # A connection that never sends a byte is also bounded (uvicorn would keep it forever).
        self._start_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._release()
        self._cancel_timer()
        super().connection_lost(exc)

    def handle_websocket_upgrade(self) -> None:
        # The connection moves to a WebSocket protocol, which is told of its end instead of this one:
        # released here, or every upgrade would hold a place in open_connections for good.
        self._release()
        self._cancel_timer()
        super().handle_websocket_upgrade()

    def send_400_response(self, msg: str) -> None:
        # uvicorn's answer to bytes that are not HTTP: problem+json, with the security headers.
        self.transport.write(problem_bytes(HTTPStatus.BAD_REQUEST, msg, self.server_state.default_headers))
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self.reading_head:
            if self.deadline is None:  # the first bytes of a later request on a kept-alive connection
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
            if not self.reading_head and not self.transport.is_closing():
                # The head is complete and its body is not: the body's silences are bounded from here.
                # (A request without a body is complete by now: its GET costs no timer work.)
                self._watch(self.loop.time() + self.body_idle_timeout)
            return
        # The body. Its bytes are the body limit's business (services.api.limits), but a chunked
        # body may end with trailer fields, which httptools buffers as it does headers: a read that
        # moves no body forward (no body bytes, no chunk) counts against the same limit.
        self.body_moved = False
        super().data_received(data)
        if self.reading_head:  # the message ended in this read
            self.idle_body_bytes = 0
            return
        # Bytes arrived: the client's silence starts again (trailer bytes too: their size is bounded).
        # A later deadline: the pending timer is kept, and re-arms itself when it fires.
        self._watch(self.loop.time() + self.body_idle_timeout)
        if self.body_moved:
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
        self.deadline = None  # the head's bound is met (data_received bounds the body, if one follows)
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
        self.deadline = None  # the timer, if pending, finds nothing to bound and lapses
        super().on_message_complete()

    # --- the bounds ---

    def _head_ends_within_limit(self, data: bytes) -> bool:
        """Whether the head ends within this read before the limit is crossed (the rest of the read
        is then body, or the next request). Only reads that would cross the limit get here: a large
        body arriving with its small head in one read, or a head that is too long."""
        room = self.max_head_bytes - self.head_bytes
        return END_OF_HEAD in self.previous_chunk[-3:] + data[:room]

    def _start_head(self) -> None:
        self._watch(self.loop.time() + self.head_timeout)

    def _watch(self, deadline: float) -> None:
        """Bound what is under way by `deadline`. The pending timer is kept unless it would fire after
        the deadline (a body idle timeout shorter than the head timeout it was armed for)."""
        self.deadline = deadline
        if self.timer is not None and self.timer.when() <= deadline:
            return
        self._cancel_timer()
        self.timer = self.loop.call_at(deadline, self._check_deadline)

    def _cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _check_deadline(self) -> None:
        self.timer = None
        if self.deadline is None or self.transport.is_closing():
            return
        now = self.loop.time()
        if not self.reading_head and self._server_holds_the_body():
            self.deadline = now + self.body_idle_timeout  # the client's silence is not its own
        left = self.deadline - now
        if left > 0:  # moved on since this timer was armed: a later head, or more body bytes
            self.timer = self.loop.call_later(left, self._check_deadline)
            return
        if self.reading_head:
            if self.head_bytes == 0:  # an idle connection: nothing to answer
                self.transport.close()
                return
            self._refuse(HTTPStatus.REQUEST_TIMEOUT, f"The request head did not arrive within {self.head_timeout:g} s.")
            return
        if self.cycle is not None and self.cycle.response_complete:
            # The app answered without waiting for the rest of the body: nothing more to say (a second
            # response would be read as the answer to the client's next request).
            self.logger.warning("Request Timeout: the rest of a body already answered stopped arriving; closed")
            self.deadline = None
            self.transport.close()
            return
        self._refuse(HTTPStatus.REQUEST_TIMEOUT, f"The request body stopped arriving for {self.body_idle_timeout:g} s.")

    def _server_holds_the_body(self) -> bool:
        """Whether the body stalls on the server's side: reading is paused (the app has not taken the
        bytes buffered, or a pipelined request waits its turn), or the client waits for the
        `100 Continue` it asked for, which uvicorn sends when the app first reads the body."""
        cycle = self.cycle
        return self.flow.read_paused or (
            cycle is not None and cycle.waiting_for_100_continue and not cycle.response_started
        )

    def _refuse(self, status: HTTPStatus, detail: str) -> None:
        in_head = self.reading_head
        self.deadline = None
        self._cancel_timer()
        self.reading_head = False
        self.logger.warning("%s: %s", status.phrase, detail)
        cycle = self.cycle
        # Answer unless a response is being written on this connection (an earlier request's, for a
        # pipelining client; or, for a body or trailers, the app has started answering): our bytes
        # would corrupt it, so the connection is only closed then.
        if cycle is None or cycle.response_complete or (not in_head and not cycle.response_started):
            self.transport.write(problem_bytes(int(status), detail, self.server_state.default_headers))
        if cycle is not None and not cycle.response_complete:
            # The app's request is over: its `receive` says so and its `send` writes nothing (what
            # uvicorn does when the client goes away).
            cycle.disconnected = True
            cycle.message_event.set()
        self.transport.close()

    # --- the process's connections ---

    def _turn_away(self) -> None:
        """Answer 503 at once and close: the process has MAX_CONNECTIONS open. No timer is armed and
        no byte of it is parsed: its answer is written before its request arrives (clients read it
        as the answer to the request they send; curl and httpx do)."""
        self.reading_head = False
        detail = f"This server process has {self.max_connections} connections open; try again shortly."
        retry = ((b"retry-after", str(RETRY_AFTER_SECONDS).encode()),)
        self.transport.write(
            problem_bytes(HTTPStatus.SERVICE_UNAVAILABLE, detail, self.server_state.default_headers, retry)
        )
        self.transport.close()
        cls = BoundedHttpToolsProtocol
        cls.turned_away += 1
        now = self.loop.time()
        if cls.turned_away_logged_at is None or now - cls.turned_away_logged_at >= TURNED_AWAY_LOG_SECONDS:
            self.logger.warning(
                "Service Unavailable: %d connection(s) turned away at MAX_CONNECTIONS=%d",
                cls.turned_away,
                self.max_connections,
            )
            cls.turned_away, cls.turned_away_logged_at = 0, now

    def _release(self) -> None:
        if self.counted:
            self.counted = False
            BoundedHttpToolsProtocol.open_connections -= 1
