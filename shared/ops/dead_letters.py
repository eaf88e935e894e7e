"""The dead letters: work given up on, in one view, newest first, keyset-paged over three sources:
- outbox rows the sweeper stopped re-sending (MAX_SWEEPS sweeps, still unprocessed: PostgreSQL);
- jobs whose last try failed (arq keeps a result only once no retry is left: Redis), not yet
  retried; recorded jobs, cron runs and outbox jobs are not among them (their record, the next
  cron run, or the outbox row is what is given up);
- durable job records that failed (PostgreSQL).
Aborted jobs and records are not dead letters: a person stopped them.

A page reads at most limit + 1 rows of each table, and the failed jobs Redis keeps (bounded by
arq's result retention) in SCAN batches; the three are merged by (given_up_at, kind, id)."""

from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.jobs import dead_letters as sql
from shared.jobs.outbox import job_id_for
from shared.ops.clock import at
from shared.ops.dead_letter_schemas import (
    DeadLetter,
    DeadLetterFilter,
    DeadLetterKind,
    DeadLetterPage,
    DeadLetterPosition,
)
from shared.ops.job_scan import Finished, finished_jobs

OUTBOX_JOB_PREFIX = job_id_for(0).removesuffix("0")
ABORTED_JOB = "CancelledError"


def _window(flt: DeadLetterFilter) -> sql.Window:
    return sql.Window(function=flt.function, since=flt.since, until=flt.until)


def _key(letter: DeadLetter) -> tuple[datetime, str, Any]:
    return letter.given_up_at, letter.kind.value, int(letter.id) if letter.kind == DeadLetterKind.outbox else letter.id


def _from_row(kind: DeadLetterKind, row: sql.Row) -> DeadLetter:
    error = row.error or {}
    return DeadLetter(
        kind=kind,
        id=row.id,
        function=row.function,
        queue=row.queue,
        given_up_at=row.at,
        tries=row.tries,
        error_type=error.get("type"),
        error_message=error.get("message"),
    )


def _from_job(job: Finished) -> DeadLetter:
    return DeadLetter(
        kind=DeadLetterKind.job,
        id=job.id,
        function=job.function,
        queue=job.queue,
        given_up_at=at(job.finished_ms) or datetime.fromtimestamp(0, UTC),
        tries=job.tries,
        error_type=job.error_type,
        error_message=job.error_message,
    )


async def failed_jobs(redis: Redis, flt: DeadLetterFilter) -> list[DeadLetter]:
    """Every failed job Redis keeps that is a dead letter and matches `flt`, newest first."""
    letters: list[DeadLetter] = []
    async for batch in finished_jobs(redis):
        for job in batch:
            if job.success or job.retried_as is not None or job.id.startswith(OUTBOX_JOB_PREFIX):
                continue
            if job.error_type == ABORTED_JOB:  # an admin's abort (arq cancels the job): a person stopped it
                continue
            letter = _from_job(job)
            if flt.function is not None and letter.function != flt.function:
                continue
            if (flt.since is not None and letter.given_up_at < flt.since) or (
                flt.until is not None and letter.given_up_at >= flt.until
            ):
                continue
            letters.append(letter)
    return sorted(letters, key=_key, reverse=True)


def _after(letter: DeadLetter, position: DeadLetterPosition | None) -> bool:
    if position is None:
        return True
    pos_id: Any = int(position.id) if position.kind == DeadLetterKind.outbox and position.id.isdigit() else position.id
    mine, theirs = _key(letter), (position.at, position.kind.value, pos_id)
    return mine[:2] < theirs[:2] or (mine[:2] == theirs[:2] and mine[2] < theirs[2])


async def collect(
    session: AsyncSession,
    redis: Redis,
    flt: DeadLetterFilter,
    position: DeadLetterPosition | None,
    limit: int,
    *,
    count: bool = False,
) -> tuple[list[DeadLetter], int]:
    """Up to limit + 1 dead letters after `position`, newest first; and, if `count` (an action's
    question, not a page's: a page reads limit + 1 rows of each table), how many match in all."""
    kinds = (flt.kind,) if flt.kind is not None else tuple(DeadLetterKind)
    window = _window(flt)
    after = sql.Position(position.at, position.kind.value, position.id) if position is not None else None
    if after is not None and after.kind == DeadLetterKind.outbox and not after.id.isdigit():
        after = sql.Position(after.at, after.kind, "0")
    letters: list[DeadLetter] = []
    total = 0
    if DeadLetterKind.outbox in kinds:
        rows = await sql.outbox_page(session, window, after, limit + 1)
        letters += [_from_row(DeadLetterKind.outbox, row) for row in rows]
        total += await sql.count_outbox(session, window) if count else 0
    if DeadLetterKind.record in kinds:
        rows = await sql.record_page(session, window, after, limit + 1)
        letters += [_from_row(DeadLetterKind.record, row) for row in rows]
        total += await sql.count_records(session, window) if count else 0
    if DeadLetterKind.job in kinds:
        jobs = await failed_jobs(redis, flt)
        total += len(jobs)
        letters += [job for job in jobs if _after(job, position)][: limit + 1]
    letters.sort(key=_key, reverse=True)
    return letters[: limit + 1], total


async def page(
    session: AsyncSession, redis: Redis, flt: DeadLetterFilter, cursor: str | None, limit: int
) -> DeadLetterPage:
    position = DeadLetterPosition.decode(cursor)
    letters, _ = await collect(session, redis, flt, position, limit)
    items = letters[:limit]
    more = len(letters) > limit
    last = items[-1] if items else None
    next_cursor = (
        DeadLetterPosition(at=last.given_up_at, kind=last.kind, id=last.id).encode() if more and last else None
    )
    return DeadLetterPage(items=items, next_cursor=next_cursor)
