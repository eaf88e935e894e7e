"""The SQL of the dead letters PostgreSQL holds: outbox rows the sweeper gave up on (swept
MAX_SWEEPS times and still unprocessed) and durable job records that failed. Read a page at a
time, newest first; requeued or discarded in one statement per action.

A requeued outbox row gets its sweeps back to 0 and its job after COMMIT (the deterministic id
outbox:<id>): if that enqueue is lost, the sweeper sends it again, and a second delivery finds it
processed (shared.jobs.outbox.lock_pending; a transfer audit is also unique on its outbox row). A
discarded outbox row is deleted: the ops audit entry keeps its id and topic. A requeued record is
queued again under its own id (as an admin's retry of it); a discarded one is deleted. A record
an admin aborted is not a dead letter: a person stopped it.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, String, and_, any_, delete, func, or_, select, true, update
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.jobs import registry
from shared.jobs.after_commit import enqueue_after_commit
from shared.jobs.outbox import PROCESS_OUTBOX_MESSAGE, job_id_for
from shared.models.jobs import MAX_SWEEPS, JobRecord, JobState, OutboxMessage
from shared.sql import array_param

# The error type of a record an admin aborted, and of a job arq cancelled on an abort.
ABORTED = "Aborted"
_OUTBOX = OutboxMessage.__table__  # type: ignore[attr-defined]  # SQLModel declares no __table__ on the class
_JOB = JobRecord.__table__  # type: ignore[attr-defined]  # likewise


@dataclass(frozen=True)
class Position:
    """Where a page starts, newest first: after the dead letter (at, kind, id)."""

    at: datetime
    kind: str
    id: str


@dataclass(frozen=True)
class Window:
    """What a listing or an action selects: a function (an outbox row's topic), a time range."""

    function: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class Row:
    id: str
    function: str
    queue: str | None
    at: datetime
    tries: int
    error: dict[str, Any] | None


def _before(
    kind: str, at: ColumnElement[Any], ident: ColumnElement[Any], after: Position | None
) -> ColumnElement[bool]:
    """Rows after `after` in the order (at, kind, id) descending, for a source of one kind."""
    if after is None:
        return true()
    if kind < after.kind:
        return at <= after.at
    if kind > after.kind:
        return at < after.at
    key: Any = int(after.id) if isinstance(ident.type, BigInteger) else after.id
    return or_(at < after.at, and_(at == after.at, ident < key))


def _window(at: ColumnElement[Any], name: ColumnElement[Any], window: Window) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if window.function is not None:
        conditions.append(name == window.function)
    if window.since is not None:
        conditions.append(at >= window.since)
    if window.until is not None:
        conditions.append(at < window.until)
    return conditions


def _dead_outbox(window: Window) -> list[ColumnElement[bool]]:
    c = _OUTBOX.c
    return [c.processed_at.is_(None), c.sweeps >= MAX_SWEEPS, *_window(c.created_at, c.topic, window)]


def _failed_records(window: Window) -> list[ColumnElement[bool]]:
    c = _JOB.c
    return [
        c.status == JobState.failed,
        c.finished_at.is_not(None),
        # An aborted record was stopped by a person (shared.jobs.records.abort): not given up.
        func.coalesce(c.error["type"].astext, "") != ABORTED,
        *_window(c.finished_at, c.function, window),
    ]


async def outbox_page(session: AsyncSession, window: Window, after: Position | None, limit: int) -> list[Row]:
    c = _OUTBOX.c
    statement = (
        select(c.id, c.topic, c.created_at, c.sweeps)
        .where(*_dead_outbox(window), _before("outbox", c.created_at, c.id, after))
        .order_by(c.created_at.desc(), c.id.desc())
        .limit(limit)
    )
    rows = await session.exec(statement)  # type: ignore[call-overload]  # SQLModel's exec() types only its own select()
    return [Row(str(r.id), r.topic, None, r.created_at, r.sweeps, None) for r in rows]


async def record_page(session: AsyncSession, window: Window, after: Position | None, limit: int) -> list[Row]:
    c = _JOB.c
    statement = (
        select(c.id, c.function, c.queue, c.finished_at, c.tries, c.error)
        .where(*_failed_records(window), _before("record", c.finished_at, c.id, after))
        .order_by(c.finished_at.desc(), c.id.desc())
        .limit(limit)
    )
    rows = await session.exec(statement)  # type: ignore[call-overload]  # as above
    return [Row(r.id, r.function, r.queue, r.finished_at, r.tries, r.error) for r in rows]


async def count_outbox(session: AsyncSession, window: Window) -> int:
    statement = select(func.count()).select_from(_OUTBOX).where(*_dead_outbox(window))
    return int((await session.exec(statement)).scalar_one())  # type: ignore[call-overload]  # as above


async def count_records(session: AsyncSession, window: Window) -> int:
    statement = select(func.count()).select_from(_JOB).where(*_failed_records(window))
    return int((await session.exec(statement)).scalar_one())  # type: ignore[call-overload]  # as above


def _outbox_ids(ids: Sequence[str]) -> list[int]:
    return [int(i) for i in ids if i.isdigit() and len(i) < 19]


async def dead_outbox_ids(session: AsyncSession, ids: Sequence[str]) -> list[str]:
    """The rows of `ids` that are dead letters."""
    c = _OUTBOX.c
    statement = select(c.id).where(
        c.id == any_(array_param("ids", _outbox_ids(ids), BigInteger())), *_dead_outbox(Window())
    )
    return [str(i) for i in (await session.exec(statement)).scalars()]  # type: ignore[call-overload]  # as above


async def requeue_outbox(session: AsyncSession, ids: Sequence[str]) -> list[str]:
    """Dead rows of `ids` swept again from 0, each row's job sent after COMMIT; the ids requeued."""
    c = _OUTBOX.c
    statement = (
        update(_OUTBOX)
        .where(c.id == any_(array_param("ids", _outbox_ids(ids), BigInteger())), *_dead_outbox(Window()))
        .values(sweeps=0)
        .returning(c.id)
    )
    done = [int(i) for i in (await session.exec(statement)).scalars()]
    for message_id in done:
        # A kept failed result of an earlier try must not block it (as the sweeper's enqueue).
        enqueue_after_commit(
            session,
            PROCESS_OUTBOX_MESSAGE,
            job_id=job_id_for(message_id),
            blocked_by_result=False,
            message_id=message_id,
        )
    return [str(i) for i in done]


async def discard_outbox(session: AsyncSession, ids: Sequence[str]) -> dict[str, str]:
    """Dead rows of `ids` deleted; id -> topic of each."""
    c = _OUTBOX.c
    statement = (
        delete(_OUTBOX)
        .where(c.id == any_(array_param("ids", _outbox_ids(ids), BigInteger())), *_dead_outbox(Window()))
        .returning(c.id, c.topic)
    )
    return {str(r.id): r.topic for r in await session.exec(statement)}


async def requeue_records(session: AsyncSession, ids: Sequence[str]) -> list[str]:
    """Failed records of `ids` queued again (same id, same arguments, tries from 0), each one's
    trigger sent after COMMIT, as shared.jobs.records.requeue_failed does for one."""
    c = _JOB.c
    statement = (
        update(_JOB)
        .where(c.id == any_(array_param("ids", list(ids), String())), c.status == JobState.failed)
        .values(status=JobState.queued, error=None, started_at=None, finished_at=None, tries=0)
        .returning(c.id, c.function)
    )
    done = list(await session.exec(statement))
    for row in done:
        enqueue_after_commit(
            session, registry.job(row.function), job_id=row.id, blocked_by_result=False, record_id=row.id
        )
    return [row.id for row in done]


async def discard_records(session: AsyncSession, ids: Sequence[str], states: Sequence[str]) -> list[str]:
    """Records of `ids` in one of `states` (finished ones) deleted; the ids deleted."""
    c = _JOB.c
    statement = (
        delete(_JOB)
        .where(c.id == any_(array_param("ids", list(ids), String())), c.status.in_(list(states)))
        .returning(c.id)
    )
    return list((await session.exec(statement)).scalars())
