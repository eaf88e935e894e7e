"""HEAD answered wherever GET is (services.api.head): the GET's status and headers, content-length
included, and no body; in-process and through a real uvicorn server on one kept-alive connection.
A HEAD where the path takes no GET is a 405 whose Allow does not list HEAD; the metrics label it HEAD."""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy.engine import URL
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.models.blog import PostStatus
from shared.models.users import Role
from tests.api.conftest import SignedIn
from tests.api.helpers import make_post
from tests.conftest import redis_url_for_tests
from tests.shared.factories import make_user
from tests.support.serving import serve_app

POSTS = "/api/v1/posts"


async def assert_head_is_get(client: AsyncClient, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    get = await client.get(path, headers=headers)
    head = await client.head(path, headers=headers)
    assert head.status_code == get.status_code, (path, head.status_code, get.status_code)
    assert head.headers.multi_items() == get.headers.multi_items(), path  # same names, values, order
    assert get.content and int(head.headers["content-length"]) == len(get.content), path  # the GET's length
    assert head.content == b"", path
    return head


async def test_head_answers_what_get_answers(client: AsyncClient, session: AsyncSession, login) -> None:  # type: ignore[no-untyped-def]
    author: SignedIn = await login(Role.author)
    post = await make_post(session, author, status=PostStatus.published)
    for path in ("/healthz", "/readyz", POSTS, f"{POSTS}/{post.id}", "/ops", "/ops/static/ops.js", "/"):
        head = await assert_head_is_get(client, path)
        assert head.status_code == 200, path
    assert (await assert_head_is_get(client, f"{POSTS}/999999999")).status_code == 404
    assert (await assert_head_is_get(client, "/api/v1/no-such-thing")).status_code == 404
    # With a caller (the dependency runs as for the GET), without one, and a query that does not validate.
    assert (await assert_head_is_get(client, "/api/v1/users/me", author.headers)).status_code == 200
    assert (await assert_head_is_get(client, "/api/v1/users/me")).status_code == 401
    assert (await assert_head_is_get(client, f"{POSTS}?limit=many")).status_code == 422


async def test_the_dashboard_head_has_its_security_headers(client: AsyncClient) -> None:
    head = await assert_head_is_get(client, "/ops")
    assert "default-src 'self'" in head.headers["content-security-policy"]
    assert head.headers["x-frame-options"] == "DENY" and head.headers["x-content-type-options"] == "nosniff"


async def test_head_where_no_get_is_405_without_head_in_allow(client: AsyncClient) -> None:
    for path, allow in (
        ("/api/v1/auth/token", "POST"),  # POST only
        ("/api/v1/auth/logout", "POST"),
    ):
        response = await client.head(path)
        assert response.status_code == 405, path
        assert response.headers["allow"] == allow, (path, response.headers["allow"])
        assert response.content == b""
        post = await client.post(path)  # the path itself is there: its POST answers (401/422), not 405
        assert post.status_code != 405


async def test_allow_lists_head_exactly_where_get_is(client: AsyncClient) -> None:
    for method, path, allow in (
        ("DELETE", POSTS, "GET, HEAD, POST"),
        ("DELETE", "/healthz", "GET, HEAD"),
        ("DELETE", "/ops", "GET, HEAD"),  # not in the OpenAPI document: the route's own, HEAD added
        ("DELETE", "/", "GET, HEAD"),
        ("GET", "/api/v1/auth/token", "POST"),
    ):
        response = await client.request(method, path)
        assert response.status_code == 405, (method, path)
        assert response.headers["allow"] == allow, (method, path, response.headers["allow"])
        for listed in response.headers["allow"].split(", "):  # every method Allow names is answered
            answered = await client.request(listed, path)
            assert answered.status_code != 405, (listed, path)


async def test_the_metrics_count_a_head_as_head_on_the_route_it_matched(
    client: AsyncClient, app: FastAPI, session: AsyncSession
) -> None:
    post = await make_post(session, await make_user(session), status=PostStatus.published)
    for path in ("/healthz", f"{POSTS}/{post.id}", f"{POSTS}/999999999"):
        assert (await client.head(path)).status_code in (200, 404)
    registry = app.state.http_metrics.registry

    def count(method: str, route: str, status: str) -> float | None:
        labels = {"method": method, "route": route, "status": status}
        value: float | None = registry.get_sample_value("guildhall_http_requests_total", labels)
        return value

    assert count("HEAD", "/healthz", "200") == 1
    assert count("HEAD", "/api/v1/posts/{post_id}", "200") == 1
    assert count("HEAD", "/api/v1/posts/{post_id}", "404") == 1
    assert count("GET", "/healthz", "200") is None  # a HEAD is not counted as a read


# --- through a real server ------------------------------------------------------------------------


@pytest.fixture
async def server(database_url: URL) -> AsyncIterator[tuple[str, int]]:
    """The real app (its own lifespan) served by uvicorn on a free port: (host, port)."""
    async with serve_app(database_url, redis_url_for_tests()) as port:
        yield "127.0.0.1", port


async def read_response(reader: asyncio.StreamReader, *, head: bool) -> tuple[bytes, dict[str, str], bytes]:
    """One HTTP/1.1 response off the wire: its status line, headers, and body (none for a HEAD)."""
    lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:] if line)}
    body = b"" if head else await reader.readexactly(int(headers["content-length"]))
    return lines[0].encode(), headers, body


async def test_a_real_server_sends_no_body_for_head_and_keeps_the_connection(server: tuple[str, int]) -> None:
    host, port = server
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for path in ("/healthz", "/readyz", POSTS, "/ops"):
            request = f"{{}} {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n"
            # HEAD then GET on the same connection: any stray body byte after the HEAD would be read
            # as the start of the GET's status line.
            writer.write(request.format("HEAD").encode())
            await writer.drain()
            head_status, head_headers, _ = await read_response(reader, head=True)
            writer.write(request.format("GET").encode())
            await writer.drain()
            get_status, get_headers, body = await read_response(reader, head=False)
            assert head_status == get_status == b"HTTP/1.1 200 OK", (path, head_status, get_status)
            for headers in (head_headers, get_headers):
                del headers["date"]  # the server's clock, per response
            assert head_headers == get_headers, path
            assert int(head_headers["content-length"]) == len(body) > 0, path
            assert "connection" not in head_headers  # kept alive
        # Nothing is left on the wire after the last GET's body.
        writer.write(f"HEAD /api/v1/auth/token HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        await writer.drain()
        status, headers, _ = await read_response(reader, head=True)
        assert status == b"HTTP/1.1 405 Method Not Allowed" and headers["allow"] == "POST"
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await reader.read(1)  # no body of the 405 follows its head
    finally:
        writer.close()
        await writer.wait_closed()


async def test_httpx_heads_and_gets_over_one_connection_to_a_real_server(server: tuple[str, int]) -> None:
    host, port = server
    connections: list[object] = []

    async def note_connection(response: httpx.Response) -> None:
        connections.append(response.extensions["network_stream"])

    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(
        base_url=f"http://{host}:{port}", limits=limits, event_hooks={"response": [note_connection]}
    ) as api:
        for _ in range(3):
            head = await api.head("/healthz")
            assert head.status_code == 200 and head.content == b""
            assert head.headers["content-length"] == "15" and head.headers["x-content-type-options"] == "nosniff"
            get = await api.get("/healthz")
            assert get.json() == {"status": "ok"}
    assert len(connections) == 6 and len(set(map(id, connections))) == 1  # one connection throughout
