"""Who is calling: the three facts about a signed-in user that requests need (id, name, role).

A token names a user; whether that user is still active, and in which role, is read from the
database. Reading it on every request costs a round trip per request, so each API process keeps
what it read for `ttl_seconds` (at most 5, `CALLER_CACHE_SECONDS`): a user deactivated or demoted
loses the old rights within that time, on every process. Nothing else is cached, and nothing in it
is needed for correctness beyond those seconds: a process may be restarted or added at any time.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.models import Role, User

# Far more than the users active within a few seconds; bounds memory if tokens of many users arrive.
MAX_CACHED_CALLERS = 10_000


@dataclass(frozen=True, slots=True)
class Caller:
    """The signed-in user as the domain sees it: immutable, never attached to a session."""

    id: int
    username: str
    role: Role


async def load_caller(session: AsyncSession, user_id: int) -> Caller | None:
    """The active user `user_id` as a Caller, or None (unknown or deactivated)."""
    row = (
        await session.exec(
            select(User.username, User.role).where(col(User.id) == user_id, col(User.is_active).is_(True))
        )
    ).first()
    return None if row is None else Caller(id=user_id, username=row[0], role=Role(row[1]))


@dataclass(slots=True)
class _Entry:
    caller: Caller | None
    fresh_until: float


class CallerCache:
    """user id -> Caller (or None: refused), each entry trusted for `ttl_seconds`."""

    def __init__(
        self,
        ttl_seconds: float,
        *,
        max_entries: int = MAX_CACHED_CALLERS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self.clock = clock
        self._entries: dict[int, _Entry] = {}

    async def get(self, session: AsyncSession, user_id: int) -> Caller | None:
        now = self.clock()
        entry = self._entries.get(user_id)
        if entry is not None and now < entry.fresh_until:
            return entry.caller
        caller = await load_caller(session, user_id)
        if self.ttl_seconds > 0:
            self._entries.pop(user_id, None)  # re-inserted last: the dict's order is the eviction order
            if len(self._entries) >= self.max_entries:
                del self._entries[next(iter(self._entries))]
            self._entries[user_id] = _Entry(caller, now + self.ttl_seconds)
        return caller
