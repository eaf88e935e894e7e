"""Requeue or discard dead letters (shared.ops.dead_letters): one, or every one a filter matches
(ACTION_CAP at most per request, newest first; the answer says how many remain). Admins only;
one audit entry per action that changed anything.

- requeue: an outbox row is swept again from 0 and its job sent after COMMIT (delivered once: the
  consumer skips a processed row, shared.jobs.outbox.process); a failed job runs again as
  `<id>:retry` (shared.ops.bulk_jobs.retry_jobs); a failed record is queued again under its id.
- discard: an outbox row or a record is deleted (the audit entry keeps their ids and, for outbox
  rows, topics); a failed job's result and failure record are deleted from Redis."""

from collections.abc import Sequence
from typing import Any

from arq import ArqRedis
from sqlalchemy import BigInteger, any_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.errors import Conflict, NotFound
from shared.jobs import dead_letters as sql
from shared.models.jobs import JobState, OutboxMessage
from shared.ops import bulk_jobs, bulk_records
from shared.ops.actions import Actor, audit
from shared.ops.bulk_jobs import conflict, not_found, ok
from shared.ops.dead_letter_schemas import (
    ACTION_CAP,
    ActedOn,
    ActionResult,
    DeadLetterAction,
    DeadLetterActionRequest,
    DeadLetterFilter,
    DeadLetterKind,
    ItemOutcome,
)
from shared.ops.dead_letters import collect, failed_jobs
from shared.sql import array_param

NOT_DEAD = "not_a_dead_letter"
_DONE = {DeadLetterAction.requeue: "requeued", DeadLetterAction.discard: "discarded"}


async def _outbox_present(session: AsyncSession, ids: Sequence[str]) -> set[str]:
    c = OutboxMessage.__table__.c  # type: ignore[attr-defined]  # SQLModel declares no __table__ on the class
    numbers = [int(i) for i in ids if i.isdigit() and len(i) < 19]
    statement = select(c.id).where(c.id == any_(array_param("ids", numbers, BigInteger())))
    return {str(i) for i in (await session.exec(statement)).scalars()}  # type: ignore[call-overload]  # SQLModel's exec() types only its own select()


async def _on_outbox(
    session: AsyncSession, action: DeadLetterAction, ids: list[str], dry_run: bool
) -> tuple[list[ActedOn], dict[str, Any]]:
    detail: dict[str, Any] = {}
    if dry_run:
        dead = set(await sql.dead_outbox_ids(session, ids))
    elif action == DeadLetterAction.requeue:
        dead = set(await sql.requeue_outbox(session, ids))
    else:
        topics = await sql.discard_outbox(session, ids)
        dead, detail = set(topics), {"topics": topics}
    present = await _outbox_present(session, [i for i in ids if i not in dead]) if len(dead) < len(ids) else set()
    return [_outcome(i, action, dry_run, done=i in dead, known=i in present) for i in ids], detail


def _outcome(ident: str, action: DeadLetterAction, dry_run: bool, *, done: bool, known: bool) -> ActedOn:
    if done:
        return ok(ident, f"would be {_DONE[action]}" if dry_run else _DONE[action])
    return conflict(ident, NOT_DEAD) if known else not_found(ident)


async def _on_records(
    session: AsyncSession, redis: ArqRedis, action: DeadLetterAction, ids: list[str], dry_run: bool
) -> list[ActedOn]:
    known = await bulk_records.statuses(session, ids)
    failed = [i for i in ids if known.get(i) == JobState.failed]
    if dry_run:
        done = set(failed)
    elif action == DeadLetterAction.requeue:
        done = set(await sql.requeue_records(session, failed))
    else:
        done = set(await sql.discard_records(session, failed, (JobState.failed,)))
    return [_outcome(i, action, dry_run, done=i in done, known=i in known) for i in ids]


async def _on_jobs(redis: ArqRedis, action: DeadLetterAction, ids: list[str], dry_run: bool) -> list[ActedOn]:
    wanted = set(ids)
    dead = {letter.id for letter in await failed_jobs(redis, DeadLetterFilter()) if letter.id in wanted}
    outcomes: dict[str, ActedOn] = {}
    if chosen := [i for i in ids if i in dead]:
        act = bulk_jobs.retry_jobs if action == DeadLetterAction.requeue else bulk_jobs.discard_jobs
        outcomes.update({o.id: o for o in await act(redis, chosen, dry_run=dry_run)})
    if others := [i for i in ids if i not in dead]:
        # Known to Redis (finished or live) but not a dead letter: a conflict; unknown: not found.
        seen = await bulk_jobs.discard_jobs(redis, others, dry_run=True)
        outcomes.update(
            {o.id: not_found(o.id) if o.outcome == ItemOutcome.not_found else conflict(o.id, NOT_DEAD) for o in seen}
        )
    return [outcomes[i] for i in ids]


async def _act(
    session: AsyncSession,
    redis: ArqRedis,
    action: DeadLetterAction,
    chosen: dict[DeadLetterKind, list[str]],
    dry_run: bool,
) -> tuple[list[tuple[DeadLetterKind, ActedOn]], dict[str, Any]]:
    items: list[tuple[DeadLetterKind, ActedOn]] = []
    detail: dict[str, Any] = {}
    for kind, ids in chosen.items():
        if not ids:
            continue
        if kind == DeadLetterKind.outbox:
            outcomes, detail = await _on_outbox(session, action, ids, dry_run)
        elif kind == DeadLetterKind.record:
            outcomes = await _on_records(session, redis, action, ids, dry_run)
        else:
            outcomes = await _on_jobs(redis, action, ids, dry_run)
        items += [(kind, outcome.model_copy(update={"kind": kind})) for outcome in outcomes]
    return items, detail


def _result(action: str, dry_run: bool, items: list[ActedOn], matched: int, remaining: int) -> ActionResult:
    acted = 0 if dry_run else sum(1 for item in items if item.outcome == ItemOutcome.ok)
    return ActionResult(
        action=action,
        dry_run=dry_run,
        matched=matched,
        acted=acted,
        cap=ACTION_CAP,
        capped=remaining > 0,
        remaining=remaining,
        items=items,
    )


async def act_on_one(
    session: AsyncSession, redis: ArqRedis, action: DeadLetterAction, kind: DeadLetterKind, ident: str, actor: Actor
) -> ActionResult:
    """One dead letter: 404 if there is no such thing, 409 if it is not (or no longer) a dead letter."""
    [(_, outcome)], detail = await _act(session, redis, action, {kind: [ident]}, dry_run=False)
    if outcome.outcome == ItemOutcome.not_found:
        raise NotFound(f"{kind} dead letter", ident)
    if outcome.outcome == ItemOutcome.conflict:
        raise Conflict(outcome.reason or NOT_DEAD, f"{kind} {ident} is not a dead letter (delivered, retried or live)")
    await audit(redis, actor, f"dead_letter_{action}", ident, {"kind": kind, "count": 1, **detail})
    return _result(action, False, [outcome], 1, 0)


async def act_on_filter(
    session: AsyncSession, redis: ArqRedis, request: DeadLetterActionRequest, actor: Actor
) -> ActionResult:
    """Every dead letter `request.filter` matches, newest first, ACTION_CAP at most."""
    letters, matched = await collect(session, redis, request.filter, None, ACTION_CAP, count=True)
    letters = letters[:ACTION_CAP]
    chosen: dict[DeadLetterKind, list[str]] = {kind: [] for kind in DeadLetterKind}
    for letter in letters:
        chosen[letter.kind].append(letter.id)
    pairs, detail = await _act(session, redis, request.action, chosen, request.dry_run)
    items = [outcome for _, outcome in pairs]
    result = _result(request.action, request.dry_run, items, matched, max(0, matched - len(letters)))
    if result.acted:
        done = {kind: [o.id for k, o in pairs if k == kind and o.outcome == ItemOutcome.ok] for kind in DeadLetterKind}
        await audit(
            redis,
            actor,
            f"dead_letters_{request.action}",
            None,
            {
                "filter": request.filter.model_dump(mode="json", exclude_none=True),
                "count": result.acted,
                "matched": matched,
                "remaining": result.remaining,
                "ids": {kind.value: ids for kind, ids in done.items() if ids},
                **detail,
            },
        )
    return result
