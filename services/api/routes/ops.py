"""Ops views (operators and admins): queue summary and job detail from Redis; the audited actions
(admins only: an operator sees everything here and changes nothing)."""

from typing import Annotated

from fastapi import APIRouter, Path, status

from services.api.deps import AdminUser, JobPool, OperatorUser, SessionDep
from services.api.problems import BODY_ERRORS, problem_responses
from shared.auth.callers import Caller
from shared.errors import NotFound
from shared.models.users import Role
from shared.ops import actions, recorded
from shared.ops.inspect import read_summary
from shared.ops.queries import add_database_views
from shared.ops.schemas import AbortRequested, JobDetail, OpsSummary, PurgeRequest, PurgeResult, RetryAccepted

router = APIRouter(prefix="/ops", tags=["ops"], responses=problem_responses(401, 403))

# arq job ids are uuid hex, or ours ("outbox:12", "cron:sweep_outbox:..."): short, no spaces.
JobId = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9:_.\-]+$")]


def actor_of(user: Caller) -> actions.Actor:
    return actions.Actor(username=user.username, user_id=user.id)


@router.get("/queues", summary="Summarize the job queues")
async def read_queues(pool: JobPool, session: SessionDep, viewer: OperatorUser) -> OpsSummary:
    """Per queue: ready vs deferred depth, latency, running jobs with progress; recent and failed jobs,
    per-function counts and durations, per-worker health, the last hour's throughput, the outbox
    backlog, the accepted bulk jobs not yet finished, and the latest admin actions. A bounded number
    of Redis commands and SQL statements, whatever the depth."""
    return await add_database_views(await read_summary(pool), session)


@router.get("/jobs/{job_id}", summary="Inspect a job", responses=problem_responses(404))
async def read_job(job_id: JobId, pool: JobPool, session: SessionDep, viewer: OperatorUser) -> JobDetail:
    """One job in any state, with its arguments, result, or error and traceback (a bulk job's
    state from its durable record). For an operator, `args_preview` and `result_preview` are null:
    they are domain data (a bulk hero update carries secret identities), which is admins' to read."""
    detail = await recorded.job_detail(session, pool, job_id)
    if detail is None:
        raise NotFound("job", job_id)
    if viewer.role != Role.admin:
        return detail.model_copy(update={"args_preview": None, "result_preview": None})
    return detail


@router.post(
    "/jobs/{job_id}/retry",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Retry a failed job",
    responses=problem_responses(404, 409),
)
async def retry_job(job_id: JobId, pool: JobPool, session: SessionDep, admin: AdminUser) -> RetryAccepted:
    """Run a failed job again, same function and arguments: a bulk job under its own id (its record
    queued again), any other as a new job `<id>:retry` on its queue. Admins only (an operator: 403)."""
    if (accepted := await recorded.retry(session, pool, job_id, actor_of(admin))) is not None:
        return accepted
    return await actions.retry_job(pool, job_id, actor_of(admin))


@router.post(
    "/jobs/{job_id}/abort",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Abort a job",
    responses=problem_responses(404, 409),
)
async def abort_job(job_id: JobId, pool: JobPool, session: SessionDep, admin: AdminUser) -> AbortRequested:
    """Abort a queued, deferred or running job: a bulk job's record fails at once (a run still going
    rolls back); any job's trigger is cancelled by its worker and ends as failed (CancelledError).
    Admins only (an operator: 403)."""
    if (requested := await recorded.abort(session, pool, job_id, actor_of(admin))) is not None:
        return requested
    return await actions.abort_job(pool, job_id, actor_of(admin))


@router.post("/results/purge", summary="Purge finished jobs' results", responses=problem_responses(*BODY_ERRORS))
async def purge_results(body: PurgeRequest, pool: JobPool, admin: AdminUser) -> PurgeResult:
    """Delete finished jobs' stored results (all, or only complete / failed ones). Admins only (an
    operator: 403)."""
    return await actions.purge_results(pool, body.status, actor_of(admin))
