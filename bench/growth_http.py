"""Timing the reads over HTTP against the real API process: one client per caller (keep-alive, one
request at a time), one untimed request first (the connection, the plan, the caller cache), then the
median of `repeat`, and each response's size in bytes."""

import statistics
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx

from bench.growth_reads import ANON, Read
from services.api.main import API_PREFIX

TIMEOUT = 120.0
# A middle cursor the API refuses (its position format changed): the page this many pages in instead.
FALLBACK_PAGES = 5


@dataclass(frozen=True)
class Measure:
    seconds: float  # median
    size: int  # bytes of the body
    status: int
    note: str = ""
    # A page (items and next_cursor): its size is bounded by its limit, so it can only grow until
    # the page is full; it is never a growing response.
    paged: bool = False


async def login(client: httpx.AsyncClient, username: str, password: str) -> str:
    response = await client.post(f"{API_PREFIX}/auth/token", data={"username": username, "password": password})
    if response.status_code != 200:
        raise SystemExit(f"login of {username} failed: {response.status_code} {response.text[:300]}")
    token: str = response.json()["access_token"]
    return token


async def _timed(client: httpx.AsyncClient, url: str, repeat: int) -> Measure:
    first = await client.get(url)
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = await client.get(url)
        seconds.append(time.perf_counter() - start)
    paged = False
    if first.headers.get("content-type", "").startswith("application/json"):
        body = first.json()
        paged = isinstance(body, dict) and "next_cursor" in body and "items" in body
    return Measure(statistics.median(seconds), len(first.content), response.status_code, paged=paged)


def _without_cursor(path: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(path)
    query = dict(parse_qsl(parts.query))
    query.pop("cursor", None)
    return parts.path, query


async def _page_deep_in(client: httpx.AsyncClient, path: str) -> str | None:
    """The path of the page FALLBACK_PAGES pages in, following next_cursor (None: fewer pages)."""
    base, query = _without_cursor(path)
    for _ in range(FALLBACK_PAGES):
        response = await client.get(API_PREFIX + base + ("?" + urlencode(query) if query else ""))
        cursor = response.json().get("next_cursor") if response.status_code == 200 else None
        if not cursor:
            return None
        query["cursor"] = cursor
    return base + "?" + urlencode(query)


async def measure(client: httpx.AsyncClient, read: Read, repeat: int) -> Measure:
    measured = await _timed(client, API_PREFIX + read.path, repeat)
    if measured.status in (400, 422) and "cursor=" in read.path:
        # The app no longer reads the cursor this benchmark builds: follow its own cursors instead.
        deep = await _page_deep_in(client, read.path)
        if deep is not None:
            again = await _timed(client, API_PREFIX + deep, repeat)
            return Measure(again.seconds, again.size, again.status, f"{FALLBACK_PAGES} pages in", again.paged)
    return measured


class Callers:
    """One client per caller, the signed-in ones with their bearer token."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.clients: dict[str, httpx.AsyncClient] = {}

    async def open(self, accounts: dict[str, tuple[str, str]]) -> None:
        self.clients[ANON] = httpx.AsyncClient(base_url=self.base_url, timeout=TIMEOUT)
        for caller, (username, password) in accounts.items():
            client = httpx.AsyncClient(base_url=self.base_url, timeout=TIMEOUT)
            client.headers["Authorization"] = f"Bearer {await login(client, username, password)}"
            self.clients[caller] = client

    async def close(self) -> None:
        for client in self.clients.values():
            await client.aclose()
        self.clients.clear()
