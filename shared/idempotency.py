"""Idempotency keys: the first response to a keyed request is kept and replayed on a repeat.

A client that did not hear back (timeout, dropped connection) may send the same request
again with the same `Idempotency-Key`; it must get the first answer, not a second effect.
The record is written in the request's own transaction, so it exists exactly when the
effect was committed. Two identical keyed requests at once are serialized by a transaction
advisory lock on (user, key): the second waits for the first to commit, then replays it.

A key is kept IDEMPOTENCY_KEY_HOURS (24: what payment APIs promise). Past that, a repeat is a new
request whether or not retention (shared.jobs.retention) has deleted the row yet: the expired row
is deleted under the key's lock and the new response stored in its place, so what a client gets
never depends on how far behind the pruning is.

Usage, inside one transaction:
    stored = await replay_or_lock(session, request)   # None: first time, go ahead
    ... do the work, flush ...
    await remember(session, request, status_code, body)
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import BigInteger, bindparam, func
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import flush
from shared.errors import ConstraintViolation
from shared.models.jobs import IdempotencyRecord
from shared.settings import get_settings

KEY_MAX_LENGTH = 200
HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"


class IdempotencyKeyReused(ConstraintViolation):
    """The key was first used for a different request: refused (422), never replayed."""

    def __init__(self) -> None:
        super().__init__(
            kind="invalid_value",
            constraint="idempotency_key_reused",
            table=None,
            fields=(f"header.{HEADER}",),
            message=f"this {HEADER} was already used for another request; send a new key for a new request",
            value=None,
        )


@dataclass(frozen=True)
class IdempotentRequest:
    """Who sent the key, the key, and what the request was (its fingerprint)."""

    user_id: int
    key: str
    fingerprint: str


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: dict[str, Any]


def fingerprint(method: str, path: str, body: Any) -> str:
    """sha256 of method, path and the canonical JSON of the parsed body: the same request sent
    with other whitespace or key order has the same fingerprint; another hero or body does not."""
    canonical = json.dumps([method.upper(), path, body], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _lock_id(user_id: int, key: str) -> int:
    """A signed 64-bit advisory lock id for (user, key); a rare collision only serializes two
    unrelated requests a little longer, it never mixes their records up."""
    digest = hashlib.sha256(f"idempotency:{user_id}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def replay_or_lock(session: AsyncSession, request: IdempotentRequest) -> StoredResponse | None:
    """The stored response for this key, or None after taking the key's lock for this transaction.

    The lock is taken BEFORE looking: a concurrent twin blocks here until the first commits
    (and its record becomes visible) or rolls back (and the twin does the work itself).
    Raises IdempotencyKeyReused when the key belongs to a different request within its window.
    """
    lock = bindparam("lock_id", _lock_id(request.user_id, request.key), type_=BigInteger())
    await session.exec(select(func.pg_advisory_xact_lock(lock)))
    # Columns, not the table class: an expired row is deleted below, and no stale copy of it may stay
    # in the session to collide with the record `remember` adds. Expiry is judged by the database's
    # clock, as retention's is.
    cutoff = func.now() - timedelta(hours=get_settings().idempotency_key_hours)
    mine = (col(IdempotencyRecord.user_id) == request.user_id, col(IdempotencyRecord.key) == request.key)
    found = (
        await session.exec(
            select(
                col(IdempotencyRecord.request_fingerprint),
                col(IdempotencyRecord.status_code),
                col(IdempotencyRecord.response_body),
                col(IdempotencyRecord.created_at) < cutoff,
            ).where(*mine)
        )
    ).first()
    if found is None:
        return None
    stored_fingerprint, status_code, body, expired = found
    if expired:
        # A new request: the old row goes in this transaction (back again if it rolls back). Twins
        # wait on the key's lock; retention's batches skip a row this DELETE holds, or this DELETE
        # waits the milliseconds of their batch and finds the row gone: either way, no conflict.
        await session.exec(delete(IdempotencyRecord).where(*mine, col(IdempotencyRecord.created_at) < cutoff))
        return None
    if stored_fingerprint != request.fingerprint:
        raise IdempotencyKeyReused
    return StoredResponse(status_code=status_code, body=body)


async def remember(session: AsyncSession, request: IdempotentRequest, status_code: int, body: dict[str, Any]) -> None:
    """Store the response in the caller's transaction: it commits (or not) with the effect."""
    session.add(
        IdempotencyRecord(
            user_id=request.user_id,
            key=request.key,
            request_fingerprint=request.fingerprint,
            status_code=status_code,
            response_body=body,
        )
    )
    await flush(session)
