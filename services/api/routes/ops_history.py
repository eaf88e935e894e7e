"""Ops history views (operators and admins): the lasting job history (every try, kept
JOB_HISTORY_DAYS) and the per-minute metric history, both read from PostgreSQL. An operator gets
no arguments: `args_preview` is null, and `q` searches the errors only."""

from typing import Annotated

from fastapi import APIRouter, Query

from services.api.deps import CursorParam, OperatorUser, SessionDep
from services.api.problems import problem_responses
from services.api.routes.ops import JobId
from shared.auth.callers import Caller
from shared.models.jobs import RunStatus
from shared.models.users import Role
from shared.ops import job_runs
from shared.ops.history_schemas import JobRunItem, JobRunPage, MetricHistory, RunFilters
from shared.ops.metric_history import metric_history
from shared.schemas import IsoTime, Page

router = APIRouter(prefix="/ops", tags=["ops"], responses=problem_responses(401, 403))

Name = Annotated[str | None, Query(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9:_.\-]+$")]


def sees_args(viewer: Caller) -> bool:
    return viewer.role == Role.admin


@router.get("/jobs", summary="Search the job history", responses=problem_responses(422))
async def list_job_runs(
    session: SessionDep,
    viewer: OperatorUser,
    function: Annotated[Name, Query(description="only this function's runs")] = None,
    status: Annotated[RunStatus | None, Query(description="complete, failed or retried")] = None,
    queue: Annotated[Name, Query(description="only this queue's runs (guildhall:short, guildhall:bulk)")] = None,
    since: Annotated[IsoTime | None, Query(description="runs that ended at or after this time")] = None,
    until: Annotated[IsoTime | None, Query(description="runs that ended before this time")] = None,
    q: Annotated[
        str | None,
        Query(
            min_length=3,
            max_length=200,
            description="text in the arguments' preview or the error message (any case; an operator's: the"
            " error only); 3 characters at least, that the trigram indexes can look up (rule search_term_indexable)",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=job_runs.MAX_PAGE_SIZE, description="page size")] = job_runs.DEFAULT_PAGE_SIZE,
    cursor: CursorParam = None,
) -> JobRunPage:
    """Every try the workers ran (kept JOB_HISTORY_DAYS), newest first, one keyset page at a time.
    Cron sweeps appear only when they failed."""
    job_runs.ensure_window(since, until)
    filters = RunFilters(function=function, status=status, queue=queue, since=since, until=until, q=q)
    return await job_runs.list_runs(session, filters, limit=limit, cursor=cursor, with_args=sees_args(viewer))


@router.get("/jobs/{job_id}/attempts", summary="A job's timeline of tries")
async def list_job_attempts(
    job_id: JobId,
    session: SessionDep,
    viewer: OperatorUser,
    limit: Annotated[int, Query(ge=1, le=job_runs.MAX_ATTEMPTS, description="page size")] = job_runs.DEFAULT_ATTEMPTS,
    cursor: CursorParam = None,
) -> Page[JobRunItem]:
    """The job's tries in the order they ended, each with its start, end, worker and error (empty
    for a job with no recorded try: still queued, running, or older than JOB_HISTORY_DAYS)."""
    return await job_runs.job_attempts(session, job_id, limit=limit, cursor=cursor, with_args=sees_args(viewer))


@router.get("/metrics/history", summary="Job metrics per minute", responses=problem_responses(422))
async def read_metric_history(
    session: SessionDep,
    viewer: OperatorUser,
    function: Annotated[Name, Query(description="one function (default: every one but the cron sweepers)")] = None,
    queue: Annotated[Name, Query(description="one queue (default: every queue)")] = None,
    since: Annotated[IsoTime | None, Query(description="default: an hour before `until`")] = None,
    until: Annotated[IsoTime | None, Query(description="default: now")] = None,
    step: Annotated[int, Query(ge=1, le=60, description="minutes per point")] = 1,
) -> MetricHistory:
    """Per step (one minute by default, at most 1,440 points): tries ended by outcome, throughput,
    failure rate, and run and wait time at p50/p95/p99 (kept JOB_METRICS_HOURS)."""
    return await metric_history(session, function=function, queue=queue, since=since, until=until, step_minutes=step)
