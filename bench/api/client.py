"""The benchmark's own HTTP client (httpx): keeping its CPU cost down, since it shares the
machine's cores with the app it measures."""

import importlib.util
import sys
from typing import Self

import httpx


def skip_sniffio_lookups() -> None:
    """httpcore runs `import sniffio` each time it sets up a lock, several times per request.
    sniffio is not installed here (anyio 4 no longer needs it), so each of those is a failed
    import that searches all of sys.path: about a sixth of the open-loop generator's CPU per
    request on this machine. A None entry in sys.modules makes that import fail at once, with
    the same outcome (httpcore then assumes asyncio, which it is)."""
    if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]


class ShardedClient:
    """Several small httpx clients in place of one big one, for the open-loop generator.

    httpcore's pool scans all of its connections (an expiry check with a poll() syscall each)
    whenever a request starts or ends: a single client grown to a few hundred connections by
    a backlog spends milliseconds of CPU per request there, and the generator, not the app,
    becomes the bottleneck. Each request goes to the shard with the fewest in flight, and no
    shard ever has more requests than connections, so nothing waits inside httpx either.
    """

    def __init__(self, shards: int, per_shard: int, headers: dict[str, str], timeout: float) -> None:
        limits = httpx.Limits(max_connections=per_shard, max_keepalive_connections=per_shard)
        self.clients = [httpx.AsyncClient(headers=headers, limits=limits, timeout=timeout) for _ in range(shards)]
        self.in_flight = [0] * shards
        self.per_shard = per_shard

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        for client in self.clients:
            await client.aclose()

    def acquire(self) -> int | None:
        """A shard with room for one more request (now counted in flight), or None if all are full."""
        index = min(range(len(self.clients)), key=self.in_flight.__getitem__)
        if self.in_flight[index] >= self.per_shard:
            return None
        self.in_flight[index] += 1
        return index

    def release(self, index: int) -> None:
        self.in_flight[index] -= 1
