"""Moving a hero between teams, safely under concurrency, with its audit intent in the same commit.

Concurrency: the hero row is locked (`SELECT ... FOR UPDATE`) before it is read, so parallel
transfers of one hero run one after another; each sees the team the previous one committed
(no lost update) and the outbox rows get their ids in commit order.

Audit: the TransferLog row is written later by the worker from an outbox row committed here,
together with the move: there is never a move without its audit intent, nor the reverse.
"""

import hashlib
from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from shared import idempotency
from shared.auth.callers import Caller
from shared.errors import Conflict, ConstraintViolation, NotFound
from shared.heroes import queries
from shared.heroes.schemas import MAX_PAGE, TransferLogPublic, TransferLogRead, TransferRead
from shared.heroes.service import TEAM_REFERENCE, UnknownTeam, sees_secret_identities
from shared.jobs import outbox
from shared.models.base import now_utc
from shared.models.heroes import TransferLog
from shared.models.jobs import OutboxTopic
from shared.pagination import page_of
from shared.schemas import Page, TimeIdPosition, row_id

ALREADY_ON_TEAM = "hero_already_on_team"
# TransferLog.idempotency_key is unique across users and at most 200 characters long.
AUDIT_KEY_MAX_LENGTH = 200


@dataclass(frozen=True)
class TransferOutcome:
    transfer: TransferRead
    status_code: int
    replayed: bool


def audit_key(user_id: int, key: str) -> str:
    """The key the audit log dedupes on: the client's key, namespaced by its user (two users may
    pick the same key), hashed only if the pair would not fit the column."""
    namespaced = f"{user_id}:{key}"
    if len(namespaced) <= AUDIT_KEY_MAX_LENGTH:
        return namespaced
    return f"{user_id}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"


async def transfer_hero(
    session: AsyncSession,
    hero_id: int,
    to_team_id: int | None,
    *,
    requested_by_id: int | None,
    idempotency_key: str | None = None,
) -> TransferRead:
    """Move the hero to `to_team_id` (None: no team) and record the intent to audit it.

    404 for an unknown hero or team, 409 when the hero is already there.
    """
    try:
        moved = await queries.move_hero(session, hero_id, to_team_id)
    except ConstraintViolation as error:  # the new team's existence is checked by its foreign key
        if error.constraint == TEAM_REFERENCE:
            raise UnknownTeam(to_team_id) from error
        raise
    if moved is None:  # no such hero, or already there: one more read tells which
        if not await queries.hero_exists(session, hero_id):
            raise NotFound("hero", hero_id)
        where = f"on team {to_team_id}" if to_team_id is not None else "without a team"
        raise Conflict(ALREADY_ON_TEAM, f"hero {hero_id} is already {where}")
    transfer = TransferRead(
        hero_id=hero_id,
        from_team_id=moved.from_team_id,
        to_team_id=to_team_id,
        transfer_date=now_utc(),
        requested_by_id=requested_by_id,
        idempotency_key=idempotency_key,
    )
    payload = transfer.model_dump(mode="json")
    # The response shows the key as the client sent it; the log's copy must be unique across users.
    if idempotency_key is not None and requested_by_id is not None:
        payload["idempotency_key"] = audit_key(requested_by_id, idempotency_key)
    # The audit intent, in the same transaction; its job is asked for once the transaction commits.
    await outbox.record(session, OutboxTopic.transfer_audit, payload)
    return transfer


async def transfer_hero_once(
    session: AsyncSession,
    hero_id: int,
    to_team_id: int | None,
    *,
    requested_by_id: int,
    request: idempotency.IdempotentRequest | None = None,
) -> TransferOutcome:
    """`transfer_hero`, replaying the first response instead when the request carries an
    idempotency key already answered. Only a committed transfer is remembered: a refused one
    wrote nothing, so a retry is simply tried again."""
    if request is not None:
        stored = await idempotency.replay_or_lock(session, request)
        if stored is not None:
            return TransferOutcome(TransferRead.model_validate(stored.body), stored.status_code, replayed=True)
    transfer = await transfer_hero(
        session,
        hero_id,
        to_team_id,
        requested_by_id=requested_by_id,
        idempotency_key=request.key if request else None,
    )
    if request is not None:
        await idempotency.remember(session, request, 200, transfer.model_dump(mode="json"))
    return TransferOutcome(transfer, 200, replayed=False)


async def transfer_history(
    session: AsyncSession,
    hero_id: int,
    *,
    limit: int = MAX_PAGE,
    cursor: str | None = None,
    viewer: Caller | None = None,
) -> Page[TransferLogPublic] | Page[TransferLogRead]:
    """The hero's logged transfers, newest first. The history outlives the hero: a deleted
    hero's log is still served; 404 only when there is neither hero nor history. Who requested
    each transfer, and with which idempotency key, only admins see (TransferLogRead)."""
    position = TimeIdPosition.decode(cursor)
    logs = await queries.transfer_history(session, hero_id, limit=limit, after=position)
    if not logs and position is None and not await queries.hero_exists(session, hero_id):
        raise NotFound("hero", hero_id)
    if sees_secret_identities(viewer):
        return page_of(
            logs,
            limit,
            _logged_position,
            lambda log: TransferLogRead.model_validate(log, from_attributes=True),
            page=Page[TransferLogRead],
        )
    return page_of(
        logs,
        limit,
        _logged_position,
        lambda log: TransferLogPublic.model_validate(log, from_attributes=True),
        page=Page[TransferLogPublic],
    )


def _logged_position(log: TransferLog) -> TimeIdPosition:
    return TimeIdPosition(at=log.transfer_date, id=row_id(log))
