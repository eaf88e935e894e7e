"""POST /ops/jobs/actions: retry, abort or discard the jobs a list of ids names, or every job a
filter matches (ACTION_CAP at most per request, the answer saying how many remain). Recorded jobs
act on their records (shared.ops.bulk_records), the others in Redis (shared.ops.bulk_jobs). One
audit entry per action that changed anything: who, what, how many, and the ids or the filter."""

from collections.abc import Awaitable, Callable
from typing import Any

from arq import ArqRedis
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.jobs import registry
from shared.ops import bulk_jobs, bulk_records, keys
from shared.ops.actions import Actor, audit
from shared.ops.dead_letter_schemas import (
    ACTION_CAP,
    ACTS_ON,
    ActedOn,
    ActionResult,
    ItemOutcome,
    JobAction,
    JobFilter,
    JobsActionRequest,
)
from shared.ops.job_scan import finished_jobs, unfinished_jobs
from shared.ops.schemas import JobStatus

_REDIS_ACTIONS: dict[JobAction, Callable[..., Awaitable[list[ActedOn]]]] = {
    JobAction.retry: bulk_jobs.retry_jobs,
    JobAction.abort: bulk_jobs.abort_jobs,
    JobAction.discard: bulk_jobs.discard_jobs,
}
# A record's states for each status a filter names (a queued record whose trigger waits for its
# retry time is still queued in its record).
_RECORD_STATES = {
    JobStatus.queued: "queued",
    JobStatus.in_progress: "in_progress",
    JobStatus.complete: "complete",
    JobStatus.failed: "failed",
}


async def act_on_ids(
    session: AsyncSession, pool: ArqRedis, action: JobAction, job_ids: list[str], *, dry_run: bool, by: str
) -> list[ActedOn]:
    """Each job's outcome, in the order of `job_ids`: recorded ones by their records, the rest in Redis."""
    known = await bulk_records.statuses(session, job_ids)
    outcomes = {o.id: o for o in await bulk_records.act(session, pool, action, known, dry_run=dry_run, by=by)}
    others = [job_id for job_id in job_ids if job_id not in known]
    if others:
        outcomes.update({o.id: o for o in await _REDIS_ACTIONS[action](pool, others, dry_run=dry_run)})
    return [outcomes[job_id] for job_id in job_ids]


async def select(
    session: AsyncSession, pool: ArqRedis, action: JobAction, flt: JobFilter, limit: int
) -> tuple[list[str], int]:
    """Up to `limit` ids of the jobs `flt` matches for `action`, and how many match in all."""
    statuses = (flt.status,) if flt.status is not None else ACTS_ON[action]
    queues = (flt.queue,) if flt.queue is not None else keys.QUEUES
    recorded = registry.recorded_functions()
    found: list[str] = []
    matched = 0

    def take(job_id: str) -> None:
        nonlocal matched
        matched += 1
        if len(found) < limit:
            found.append(job_id)

    finished = {s for s in statuses if s in (JobStatus.failed, JobStatus.complete)}
    if finished:
        async for batch in finished_jobs(pool):
            for job in batch:
                status = JobStatus.complete if job.success else JobStatus.failed
                if status not in finished or (flt.function is not None and job.function != flt.function):
                    continue
                if (flt.queue is None or job.queue == flt.queue) and not (action == JobAction.retry and job.retried_as):
                    take(job.id)
    waiting = tuple(s for s in statuses if s in (JobStatus.queued, JobStatus.deferred, JobStatus.in_progress))
    if waiting:
        for unfinished in await unfinished_jobs(pool, queues, waiting):
            if unfinished.function in recorded:
                continue  # a record's trigger: the record is selected below
            if flt.function is None or unfinished.function == flt.function:
                take(unfinished.id)
    states = [_RECORD_STATES[s] for s in statuses if s in _RECORD_STATES]
    if states:
        ids, total = await bulk_records.select_ids(session, states, flt.function, flt.queue, max(0, limit - len(found)))
        found += ids
        matched += total
    return found, matched


async def run(session: AsyncSession, pool: ArqRedis, request: JobsActionRequest, actor: Actor) -> ActionResult:
    if request.ids is not None:
        job_ids = list(dict.fromkeys(request.ids))
        matched = len(job_ids)
        scope: dict[str, Any] = {}
    else:
        assert request.filter is not None  # the request's validator asks for one of the two
        job_ids, matched = await select(session, pool, request.action, request.filter, ACTION_CAP)
        scope = {"filter": request.filter.model_dump(mode="json", exclude_none=True)}
    items = await act_on_ids(session, pool, request.action, job_ids, dry_run=request.dry_run, by=actor.username)
    acted = 0 if request.dry_run else sum(1 for item in items if item.outcome == ItemOutcome.ok)
    remaining = max(0, matched - len(job_ids))
    if acted:
        done = [item.id for item in items if item.outcome == ItemOutcome.ok]
        detail = {**scope, "count": acted, "matched": matched, "remaining": remaining, "ids": done}
        await audit(pool, actor, f"bulk_{request.action}", None, detail)
    return ActionResult(
        action=request.action,
        dry_run=request.dry_run,
        matched=matched,
        acted=acted,
        cap=ACTION_CAP,
        capped=remaining > 0,
        remaining=remaining,
        items=items,
    )
