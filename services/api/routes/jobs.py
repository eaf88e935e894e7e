"""Background jobs (admins): submit bulk work, and follow it.

A 202 is a promise: the job's durable record (shared.jobs.records) commits with the answer, and
Redis only carries its trigger, sent after COMMIT. Redis being down does not refuse the job; the
sweeper sends the trigger once Redis is back."""

from typing import Annotated

from arq import ArqRedis
from fastapi import APIRouter, Depends, Request, status
from pydantic import BaseModel, Field

from services.api.deps import AdminUser, SessionDep, write_limit
from services.api.problems import BODY_ERRORS, problem_responses
from shared.blog import jobs as blog_jobs
from shared.blog.bulk_schemas import BulkPostRequest
from shared.errors import NotFound
from shared.heroes import jobs as hero_jobs
from shared.heroes.bulk_schemas import BulkHeroDeleteRequest, BulkHeroUpdateRequest
from shared.jobs.records import JOB_RECORD_RETENTION_DAYS
from shared.jobs.status import JobRead, read_job

# 503: PostgreSQL unavailable, or (the bulk routes) more bulk bodies being read at once than allowed.
router = APIRouter(prefix="/jobs", tags=["jobs"], responses=problem_responses(401, 403, 503))
# The bulk routes: their body's errors, and the write limit.
BULK_ERRORS = problem_responses(*BODY_ERRORS, 429)


def job_pool(request: Request) -> ArqRedis:
    pool: ArqRedis = request.app.state.job_pool
    return pool


JobPool = Annotated[ArqRedis, Depends(job_pool)]


class JobAccepted(BaseModel):
    job_id: str = Field(description="The job's id.")
    status_url: str = Field(description="Where to follow it: GET this path.")


def accepted(request: Request, job_id: str) -> JobAccepted:
    return JobAccepted(job_id=job_id, status_url=str(request.url_for("read_job_status", job_id=job_id).path))


@router.post(
    "/heroes/bulk-update",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Update many heroes (a job)",
    responses=BULK_ERRORS,
    dependencies=[Depends(write_limit("jobs"))],
)
async def bulk_update_heroes(
    body: BulkHeroUpdateRequest, request: Request, session: SessionDep, admin: AdminUser
) -> JobAccepted:
    """Update up to 100,000 heroes in one all-or-nothing job; fields validated like PATCH /heroes/{id}."""
    return accepted(request, await hero_jobs.accept_update(session, body.items, admin.id))


@router.post(
    "/heroes/bulk-delete",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Delete many heroes (a job)",
    responses=BULK_ERRORS,
    dependencies=[Depends(write_limit("jobs"))],
)
async def bulk_delete_heroes(
    body: BulkHeroDeleteRequest, request: Request, session: SessionDep, admin: AdminUser
) -> JobAccepted:
    """Delete up to 100,000 heroes and their items; their transfer history stays."""
    return accepted(request, await hero_jobs.accept_delete(session, body.ids, admin.id))


@router.post(
    "/posts/bulk",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Publish, archive or delete many posts (a job)",
    responses=BULK_ERRORS,
    dependencies=[Depends(write_limit("jobs"))],
)
async def bulk_post_operation(
    body: BulkPostRequest, request: Request, session: SessionDep, admin: AdminUser
) -> JobAccepted:
    """Publish, archive or delete posts chosen by ids or by a filter."""
    return accepted(request, await blog_jobs.accept_bulk(session, body, admin.id))


@router.get(
    "/{job_id}",
    name="read_job_status",
    summary="Follow a job",
    description="A job's state from its durable record: queued, in_progress (with progress), complete (with"
    f" result) or failed (with error). Answered for {JOB_RECORD_RETENTION_DAYS} days after it finished.",
    responses=problem_responses(404),
)
async def read_job_status(job_id: str, session: SessionDep, pool: JobPool, admin: AdminUser) -> JobRead:
    job = await read_job(session, pool, job_id)
    if job is None:
        raise NotFound("job", job_id)
    return job
