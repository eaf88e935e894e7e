"""Rate limits (the `limits` library, moving windows): failed logins per account and address, and
writes per user. Counted in Redis, so every API process shares them.

While Redis cannot be reached, each process counts in its own memory instead: the limits still
hold per process (an attacker gets at most WEB_CONCURRENCY times the limit), and logins and writes
go on. Refusing every login during a Redis outage would lock every user out to stop a brute force
that argon2 and PASSWORD_HASHES_AT_ONCE already slow to a few dozen guesses a second per process.
"""

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from limits.util import WindowStats
from redis.asyncio import ConnectionPool
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# Under the prefix the test harness and the ops tools treat as Guildhall's own.
KEY_PREFIX = "guildhall:limits"
# After a Redis fault, count locally this long before trying Redis again: a Redis that does not
# answer must not cost every request its timeout.
RETRY_REDIS_AFTER_SECONDS = 5.0


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after_seconds: int = 0


class RateLimits:
    """Moving-window limits shared through Redis, with a per-process fallback."""

    def __init__(self, pool: ConnectionPool | None) -> None:
        """On `pool`'s Redis; with None, in this process's memory only."""
        self._local = MovingWindowRateLimiter(MemoryStorage())
        self._shared = self._local
        if pool is not None:
            # wrap_exceptions: a Redis fault is one StorageError type here, whatever the client raised.
            storage = RedisStorage(
                "async+redis://",
                implementation="redispy",
                connection_pool=pool,  # type: ignore[arg-type]  # documented, but limits types **options as scalars
                key_prefix=KEY_PREFIX,
                wrap_exceptions=True,
            )
            self._shared = MovingWindowRateLimiter(storage)
        self._degraded_since: float | None = None

    async def check(self, limits: Sequence[RateLimitItem], *key: str) -> Verdict:
        """Is another hit allowed under every one of `limits` for `key`? (Counts nothing.)"""
        for item in limits:
            if not await self._call("test", item, key):
                reset_at = (await self._stats(item, key)).reset_time
                return Verdict(False, math.ceil(max(1.0, reset_at - time.time())))
        return Verdict(True)

    async def hit(self, limits: Sequence[RateLimitItem], *key: str) -> Verdict:
        """Count one hit under every limit; not allowed if one of them was already used up."""
        verdict = await self.check(limits, *key)
        if verdict.allowed:
            for item in limits:
                await self._call("hit", item, key)
        return verdict

    async def clear(self, limits: Sequence[RateLimitItem], *key: str) -> None:
        for item in limits:
            await self._call("clear", item, key)

    def _redis_in_use(self) -> bool:
        return self._degraded_since is None or time.monotonic() - self._degraded_since > RETRY_REDIS_AFTER_SECONDS

    async def _call(self, method: str, item: RateLimitItem, key: tuple[str, ...]) -> bool:
        if not self._redis_in_use():
            return bool(await getattr(self._local, method)(item, *key)) if method != "clear" else True
        try:
            result = await getattr(self._shared, method)(item, *key)
        except (StorageError, RedisError, OSError) as error:
            self._note_fault(error)
            result = await getattr(self._local, method)(item, *key)
        else:
            self._degraded_since = None
        return bool(result) if method != "clear" else True

    async def _stats(self, item: RateLimitItem, key: tuple[str, ...]) -> WindowStats:
        if not self._redis_in_use():
            return await self._local.get_window_stats(item, *key)
        try:
            return await self._shared.get_window_stats(item, *key)
        except (StorageError, RedisError, OSError) as error:
            self._note_fault(error)
            return await self._local.get_window_stats(item, *key)

    def _note_fault(self, error: BaseException) -> None:
        if self._degraded_since is None:
            logger.warning("rate limits counted per process while Redis is unavailable: %r", error)
        self._degraded_since = time.monotonic()


@lru_cache(maxsize=64)
def parse(text: str) -> tuple[RateLimitItem, ...]:
    """`5/minute;20/hour` -> its limits (the settings validated the notation); parsed once."""
    return tuple(parse_many(text))
