"""Reads that may go to a streaming replica (DATABASE_READ_URL), and when they must not.

Only the heavy public reads that tolerate a few seconds' staleness come here: the lists and the
search, the category tree, the team aggregates (README, "Production topology", lists them). Every
read inside a write transaction, and every read of one object by id (which a client sends right
after writing it: POST then GET must find the post), stays on the primary, so replica lag never
makes a client miss its own write.

A replica is used only while it is fresh: a monitor asks it every CHECK_EVERY_SECONDS how far its
replay is behind, and a replica further behind than DB_REPLICA_MAX_LAG_SECONDS, or one that does not
answer, is skipped until a check finds it fresh again. A read that fails on the replica all the same
(it went down between two checks, or a query was cancelled by a conflict with recovery) is run
again on the primary at once: a replica is never the reason for a 5xx.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Literal, TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import unit_of_work
from shared.errors import lost_a_race, unavailable

logger = logging.getLogger(__name__)

T = TypeVar("T")

CHECK_EVERY_SECONDS = 1.0
CHECK_TIMEOUT_SECONDS = 1.0

# Seconds the replica's replay is behind what it has received from the primary: 0 when it has
# replayed all it received; otherwise the age of the last transaction it replayed, an upper bound
# on how stale its data is. NULL (nothing replayed yet) counts as far behind.
LAG_SQL = text(
    "SELECT CASE WHEN NOT pg_is_in_recovery() OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0"
    " ELSE COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp()), 1e9) END"
)


class Replica:
    """A streaming replica and what this process last learned of its lag."""

    def __init__(self, factory: async_sessionmaker[AsyncSession], *, max_lag_seconds: float = 5.0) -> None:
        self._replica = factory
        self.max_lag_seconds = max_lag_seconds
        self.fresh = False  # nothing goes to the replica before a check found it fresh
        self.lag_seconds: float | None = None
        self.reads = 0  # reads it served (and fallbacks: reads it failed, run again on the primary)
        self.fallbacks = 0
        self._monitor: asyncio.Task[None] | None = None

    async def read(
        self, work: Callable[[AsyncSession], Awaitable[T]]
    ) -> tuple[Literal[True], T] | tuple[Literal[False], None]:
        """(True, what `work` returned) from a read transaction of its own on the replica, or
        (False, None) when the replica could not serve (the caller then runs it on the primary)."""
        if not self.fresh:
            return False, None
        try:
            async with unit_of_work(self._replica) as session:
                result = await work(session)
        except Exception as error:
            if unavailable(error) is None and not lost_a_race(error):
                raise
            self.fallbacks += 1
            self._skip(f"a read failed on it ({error!r})")
            return False, None
        self.reads += 1
        return True, result

    def _skip(self, why: str) -> None:
        if self.fresh:
            logger.warning("read replica skipped (reads go to the primary): %s", why)
        self.fresh = False

    async def check(self) -> None:
        """Ask the replica its lag; fresh if it answers in time and is within the bound."""
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_SECONDS), self._replica() as session:
                lag = float((await session.exec(LAG_SQL)).one()[0])  # type: ignore[call-overload]  # SQLModel types exec() for its select(), not text()
        except Exception as error:  # any failure to answer is "not fresh"; the next check tries again
            self.lag_seconds = None
            self._skip(f"it did not answer the lag check ({error!r})")
            return
        self.lag_seconds = lag
        if lag > self.max_lag_seconds:
            self._skip(f"it is {lag:.1f} s behind (DB_REPLICA_MAX_LAG_SECONDS={self.max_lag_seconds:g})")
        elif not self.fresh:
            logger.info("read replica in use (%.1f s behind)", lag)
            self.fresh = True

    async def start(self) -> None:
        """Check once now (so a fresh replica serves from the first request), then keep checking."""
        await self.check()
        self._monitor = asyncio.create_task(self._watch(), name="read replica lag")

    async def _watch(self) -> None:
        while True:
            started = time.monotonic()
            await self.check()
            await asyncio.sleep(max(0.0, CHECK_EVERY_SECONDS - (time.monotonic() - started)))

    async def stop(self) -> None:
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._monitor


class Reads:
    """One request's replica-tolerant reads: on the replica when there is a fresh one, else in the
    request's own session (on the primary, in its one transaction, as every other read)."""

    def __init__(self, primary: AsyncSession, replica: Replica | None) -> None:
        self._primary = primary
        self._replica = replica

    async def run(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        if self._replica is not None:
            outcome = await self._replica.read(work)
            if outcome[0]:  # served: what work returned
                return outcome[1]
        return await work(self._primary)
