"""The heroes' jobs: bulk updates and deletes (up to 100,000 heroes, all or nothing, progress
reported), and the transfer audits of the outbox.

A bulk job runs one durable job record (shared.jobs.recorded: its arguments come from PostgreSQL,
not Redis) in one transaction. On a constraint violation nothing is kept, and a diagnostic query
names every offending hero id (the database says only which rule; shared.heroes.rule_breakers).
An update's items are staged with its job record when it is accepted and applied in one SQL
statement (shared.heroes.bulk_staging); a delete validates its ids again and goes by chunks.

process_transfer_audits is the heroes' and not the jobs infrastructure's: it is the batch job of
the transfer_audit topic, and what it does (write TransferLogs) is this domain's.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from shared.errors import ConstraintViolation, DomainError
from shared.heroes import batch, bulk_staging
from shared.heroes.audit import AUDIT_WINDOW_MS, audit_transfer, audit_waiting
from shared.heroes.bulk_schemas import BulkHeroDeleteRequest, BulkHeroUpdate
from shared.heroes.rule_breakers import find_rule_breakers
from shared.heroes.team_stats import FOLD_EVERY_SECONDS, FOLD_TIMEOUT_SECONDS, fold_team_stats
from shared.jobs import records
from shared.jobs.context import Ctx, transaction
from shared.jobs.queues import Queue
from shared.jobs.recorded import Progress, progress_of, run_recorded
from shared.jobs.spec import CronSpec, JobSpec, OutboxHandler
from shared.models.jobs import OutboxTopic

CHUNK = 10_000  # heroes per DELETE of a bulk delete (progress is reported after each)


class BulkRefused(DomainError):
    """The job's input breaks a rule; nothing was written."""

    def __init__(self, rule: str | None, hero_ids: Sequence[int], message: str) -> None:
        shown = ", ".join(map(str, hero_ids[:50])) + (" ..." if len(hero_ids) > 50 else "")
        super().__init__(f"{message}; offending hero ids: {shown}" if hero_ids else message)
        self.rule = rule
        self.hero_ids = list(hero_ids)


# --- the work (in the job's transaction) ---------------------------------------------------------


async def bulk_update_staged(session: AsyncSession, job_id: str, progress: Progress) -> dict[str, Any]:
    """Apply the items staged for `job_id` in one statement. Progress is reported once, when the
    statement is done (there is nothing in between to report). Only when a rule is broken are the
    items read back, to name the offenders."""
    try:
        async with session.begin_nested():
            applied = await bulk_staging.apply_staged(session, job_id)
    except ConstraintViolation as violation:
        offenders = await find_rule_breakers(session, await bulk_staging.staged_items(session, job_id))
        raise BulkRefused(violation.constraint, offenders, f"bulk update refused: {violation.message}") from None
    # Applied: the items need not wait out the record's 30 days (a failed job keeps them for a retry).
    await bulk_staging.drop_staged(session, job_id)
    await progress(applied.asked, applied.asked)
    return {"updated": applied.updated, "missing_ids": applied.missing_ids}


async def bulk_delete(session: AsyncSession, ids: Sequence[int], progress: Progress) -> dict[str, Any]:
    """Delete heroes (their items go by ON DELETE CASCADE; TransferLogs stay: no FK)."""
    total, deleted, missing = len(ids), 0, []
    for start in range(0, total, CHUNK):
        chunk = list(ids[start : start + CHUNK])
        result = await batch.delete_heroes(session, chunk)
        deleted += len(result.ids)
        missing += result.missing_ids
        await progress(start + len(chunk), total)
    return {"deleted": deleted, "missing_ids": missing}


# --- the job functions (thin doors, as routes are) -----------------------------------------------


async def bulk_update_heroes(ctx: Ctx, record_id: str) -> dict[str, Any]:
    """Update up to 100,000 heroes, all or nothing. Re-running sets the same values again."""

    async def work(session: AsyncSession) -> dict[str, Any]:
        return await bulk_update_staged(session, record_id, progress_of(ctx, record_id))

    return await run_recorded(ctx, record_id, work)


async def bulk_delete_heroes(ctx: Ctx, record_id: str) -> dict[str, Any]:
    """Delete up to 100,000 heroes with their items; their TransferLogs stay."""

    async def work(session: AsyncSession) -> dict[str, Any]:
        request = BulkHeroDeleteRequest.model_validate(await records.arguments(session, record_id))
        return await bulk_delete(session, request.ids, progress_of(ctx, record_id))

    return await run_recorded(ctx, record_id, work)


async def process_transfer_audits(ctx: Ctx) -> dict[str, int]:
    """Write every waiting transfer audit, in batches (the job of one window of commits; see
    shared.heroes.audit.AUDIT_WINDOW_MS); idempotent: a row is written and marked in one transaction."""
    async with transaction(ctx) as session:
        return await audit_waiting(session)


BULK_UPDATE_HEROES = JobSpec(bulk_update_heroes, Queue.bulk, max_tries=3, recorded=True)
BULK_DELETE_HEROES = JobSpec(bulk_delete_heroes, Queue.bulk, max_tries=3, recorded=True)
# One per window of transfer commits (ids are never reused): a short-kept result is enough.
PROCESS_TRANSFER_AUDITS = JobSpec(process_transfer_audits, Queue.short, max_tries=10, keep_result_seconds=60)

JOBS: tuple[JobSpec, ...] = (BULK_UPDATE_HEROES, BULK_DELETE_HEROES, PROCESS_TRANSFER_AUDITS)
CRONS: tuple[CronSpec, ...] = (
    # The team statistics' deltas, folded in (shared.heroes.team_stats): reads stay exact without it.
    CronSpec(fold_team_stats, Queue.short, every_seconds=FOLD_EVERY_SECONDS, timeout_seconds=FOLD_TIMEOUT_SECONDS),
)
OUTBOX_HANDLERS: Mapping[OutboxTopic, OutboxHandler] = {
    OutboxTopic.transfer_audit: OutboxHandler(
        audit_transfer, batch=PROCESS_TRANSFER_AUDITS, batch_window_ms=AUDIT_WINDOW_MS
    ),
}


# --- accepting them (in the request's transaction) -----------------------------------------------


async def accept_update(session: AsyncSession, items: Sequence[BulkHeroUpdate], submitted_by: int | None) -> str:
    """Accept a bulk update in the caller's transaction: its job record (whose arguments say how
    many items) and its items, staged as typed arrays; the job's id."""
    job_id = await records.accept(session, BULK_UPDATE_HEROES, {"item_count": len(items)}, submitted_by)
    await bulk_staging.stage_update(session, job_id, items)
    return job_id


async def accept_delete(session: AsyncSession, ids: Sequence[int], submitted_by: int | None) -> str:
    """Accept a bulk delete in the caller's transaction (its ids are its record's arguments); the job's id."""
    return await records.accept(session, BULK_DELETE_HEROES, {"ids": list(ids)}, submitted_by)
