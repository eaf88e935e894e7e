"""Who is calling: the facts about a signed-in user that requests need (id, name, role), and
whether the token presented still counts.

A token names a user; whether that user is still active, in which role, and whether the token has
been revoked (a logout, or a password change, deactivation or role change since it was issued) is
read from the database, in one statement. Reading it on every request costs a round trip per
request, so each API process keeps what it read for `ttl_seconds` (at most 5,
`CALLER_CACHE_SECONDS`), per token: a revoked token, a user deactivated or demoted, loses the old
rights within that time on every process (at once on the process that did it). Nothing else is
cached, and nothing in it is needed for correctness beyond those seconds.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import exists
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.auth.tokens import TokenClaims
from shared.models.auth import RevokedToken
from shared.models.users import Role, User

# Far more than the tokens in use within a few seconds; bounds memory if many tokens arrive.
MAX_CACHED_CALLERS = 10_000


@dataclass(frozen=True, slots=True)
class Caller:
    """The signed-in user as the domain sees it: immutable, never attached to a session. The token
    it came with (`token_id`, `token_expires_at`) is what a logout revokes."""

    id: int
    username: str
    role: Role
    token_id: str = ""
    token_expires_at: float = 0.0


async def load_caller(session: AsyncSession, claims: TokenClaims) -> Caller | None:
    """The caller of a verified token, or None (unknown or inactive user, or the token revoked)."""
    revoked = exists().where(col(RevokedToken.jti) == claims.token_id)
    row = (
        await session.exec(
            select(User.username, User.role).where(
                col(User.id) == claims.user_id,
                col(User.is_active).is_(True),
                col(User.token_generation) == claims.generation,
                ~revoked,
            )
        )
    ).first()
    if row is None:
        return None
    return Caller(claims.user_id, row[0], Role(row[1]), claims.token_id, claims.expires_at)


@dataclass(slots=True)
class _Entry:
    caller: Caller | None
    fresh_until: float


class CallerCache:
    """token id -> Caller (or None: refused), each entry trusted for `ttl_seconds`."""

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
        self._entries: dict[str, _Entry] = {}

    async def get(self, session: AsyncSession, claims: TokenClaims) -> Caller | None:
        now = self.clock()
        entry = self._entries.get(claims.token_id)
        if entry is not None and now < entry.fresh_until:
            return entry.caller
        caller = await load_caller(session, claims)
        if self.ttl_seconds > 0:
            self._entries.pop(claims.token_id, None)  # re-inserted last: the dict's order is the eviction order
            if len(self._entries) >= self.max_entries:
                del self._entries[next(iter(self._entries))]
            self._entries[claims.token_id] = _Entry(caller, now + self.ttl_seconds)
        return caller

    def forget_user(self, user_id: int) -> None:
        """Drop this process's entries of a user whose tokens were just revoked (other processes
        follow within ttl_seconds)."""
        for token_id in [t for t, e in self._entries.items() if e.caller is not None and e.caller.id == user_id]:
            del self._entries[token_id]

    def forget_token(self, token_id: str) -> None:
        self._entries.pop(token_id, None)
