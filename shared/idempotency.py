"""Idempotency keys: the first response to a keyed request is kept and replayed on a repeat.

A client that did not hear back (timeout, dropped connection) may send the same request
again with the same `Idempotency-Key`; it must get the first answer, not a second effect.
The record is written in the request's own transaction, so it exists exactly when the
effect was committed. Two identical keyed requests at once are serialized by a transaction
advisory lock on (user, key): the second waits for the first to commit, then replays it.

Usage, inside one transaction:
    stored = await replay_or_lock(session, request)   # None: first time, go ahead
    ... do the work, flush ...
    await remember(session, request, status_code, body)
"""

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, bindparam, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import flush
from shared.errors import ConstraintViolation
from shared.models.jobs import IdempotencyRecord

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
    Raises IdempotencyKeyReused when the key belongs to a different request.
    """
    lock = bindparam("lock_id", _lock_id(request.user_id, request.key), type_=BigInteger())
    await session.exec(select(func.pg_advisory_xact_lock(lock)))
    record = (
        await session.exec(
            select(IdempotencyRecord)
            .where(col(IdempotencyRecord.user_id) == request.user_id, col(IdempotencyRecord.key) == request.key)
            .execution_options(populate_existing=True)
        )
    ).first()
    if record is None:
        return None
    if record.request_fingerprint != request.fingerprint:
        raise IdempotencyKeyReused
    return StoredResponse(status_code=record.status_code, body=record.response_body)


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
