"""Retry, abort and discard of many recorded jobs (bulk jobs with a durable record) at once: the
record is the truth (shared.jobs.records), so each action is one SQL statement over all of them,
in the request's transaction; an abort also cancels the triggers Redis holds (one pipeline)."""

from collections.abc import Sequence

from redis.asyncio import Redis
from sqlalchemy import String, any_, func, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.jobs.dead_letters import discard_records, requeue_records
from shared.models.jobs import UNFINISHED, JobRecord, JobState
from shared.ops.bulk_jobs import abort_jobs, conflict, not_found, ok
from shared.ops.dead_letter_schemas import ActedOn, JobAction
from shared.sql import array_param

_JOB = JobRecord.__table__  # type: ignore[attr-defined]  # SQLModel declares no __table__ on the class
FINISHED = (JobState.complete, JobState.failed)


async def statuses(session: AsyncSession, job_ids: Sequence[str]) -> dict[str, str]:
    """The status of each of `job_ids` that has a record (one statement)."""
    c = _JOB.c
    statement = select(c.id, c.status).where(c.id == any_(array_param("ids", list(job_ids), String())))
    return {row.id: row.status for row in await session.exec(statement)}  # type: ignore[call-overload]  # SQLModel's exec() types only its own select()


async def select_ids(
    session: AsyncSession, states: Sequence[str], function: str | None, queue: str | None, limit: int
) -> tuple[list[str], int]:
    """Up to `limit` ids of records in `states` (oldest first), and how many match in all."""
    c = _JOB.c
    conditions = [c.status.in_(list(states))]
    if function is not None:
        conditions.append(c.function == function)
    if queue is not None:
        conditions.append(c.queue == queue)
    total = (await session.exec(select(func.count()).select_from(_JOB).where(*conditions))).scalar_one()  # type: ignore[call-overload]  # as above
    rows = await session.exec(select(c.id).where(*conditions).order_by(c.created_at, c.id).limit(limit))  # type: ignore[call-overload]  # as above
    return list(rows.scalars()), int(total)


def _allowed(action: JobAction) -> tuple[str, ...]:
    return {
        JobAction.retry: (JobState.failed,),
        JobAction.abort: UNFINISHED,
        JobAction.discard: FINISHED,
    }[action]


_REFUSAL = {JobAction.retry: "job_not_failed", JobAction.abort: "job_finished", JobAction.discard: "job_not_finished"}


async def act(
    session: AsyncSession, redis: Redis, action: JobAction, known: dict[str, str], *, dry_run: bool, by: str
) -> list[ActedOn]:
    """`action` on the records `known` (id -> status, as `statuses` read them)."""
    allowed = _allowed(action)
    fit = [job_id for job_id, status in known.items() if status in allowed]
    done: set[str] = set(fit)
    if not dry_run and fit:
        if action == JobAction.retry:
            done = set(await requeue_records(session, fit))
        elif action == JobAction.discard:
            done = set(await discard_records(session, fit, FINISHED))
        else:
            done = set(await _abort(session, fit, by))
            await abort_jobs(redis, sorted(done), dry_run=False)  # their triggers, where Redis holds one
    verb = {JobAction.retry: "requeued", JobAction.abort: "aborted", JobAction.discard: "discarded"}[action]
    outcomes = []
    for job_id, status in known.items():
        if job_id in done:
            outcomes.append(ok(job_id, f"would be {verb}" if dry_run else verb, job_id if action == "retry" else None))
        elif status in allowed:
            outcomes.append(not_found(job_id))  # changed meanwhile (deleted by retention, say)
        else:
            outcomes.append(conflict(job_id, _REFUSAL[action]))
    return outcomes


async def _abort(session: AsyncSession, job_ids: list[str], by: str) -> list[str]:
    """Unfinished records failed now (as shared.jobs.records.abort: a run still going rolls back)."""
    c = _JOB.c
    statement = (
        update(_JOB)
        .where(c.id == any_(array_param("ids", job_ids, String())), c.status.in_(UNFINISHED))
        .values(
            status=JobState.failed,
            error={"type": "Aborted", "message": f"aborted by {by}"},
            finished_at=func.clock_timestamp(),
        )
        .returning(c.id)
    )
    return list((await session.exec(statement)).scalars())
