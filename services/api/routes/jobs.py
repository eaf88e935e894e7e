"""Background jobs (admins): submit bulk work, and follow it.

A 202 is a promise: the job's durable record (shared.jobs.records) commits with the answer, and
Redis only carries its trigger, sent after COMMIT. Redis being down does not refuse the job; the
sweeper sends the trigger once Redis is back."""

from typing import Annotated

from arq import ArqRedis
from fastapi import APIRouter, Depends, Request, status
from pydantic import BaseModel

from services.api.deps import AdminUser, SessionDep, write_limit
from services.api.problems import problem_responses
from shared.blog.bulk import BulkPostRequest
from shared.errors import NotFound
from shared.heroes import bulk as hero_bulk
from shared.heroes.bulk import BulkHeroDeleteRequest, BulkHeroUpdateRequest
from shared.jobs import records
from shared.jobs.status import JobRead, read_job

router = APIRouter(prefix="/jobs", tags=["jobs"], responses=problem_responses(401, 403, 413, 422, 503))


def job_pool(request: Request) -> ArqRedis:
    pool: ArqRedis = request.app.state.job_pool
    return pool


JobPool = Annotated[ArqRedis, Depends(job_pool)]


class JobAccepted(BaseModel):
    job_id: str
    status_url: str


def accepted(request: Request, job_id: str) -> JobAccepted:
    return JobAccepted(job_id=job_id, status_url=str(request.url_for("read_job_status", job_id=job_id).path))


@router.post(
    "/heroes/bulk-update",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(429, 400),
    dependencies=[Depends(write_limit("jobs"))],
)
async def bulk_update_heroes(
    body: BulkHeroUpdateRequest, request: Request, session: SessionDep, admin: AdminUser
) -> JobAccepted:
    """Update up to 100,000 heroes in one all-or-nothing job; fields validated like PATCH /heroes/{id}."""
    return accepted(request, await hero_bulk.accept_update(session, body.items, admin.id))


@router.post(
    "/heroes/bulk-delete",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(429, 400),
    dependencies=[Depends(write_limit("jobs"))],
)
async def bulk_delete_heroes(
    body: BulkHeroDeleteRequest, request: Request, session: SessionDep, admin: AdminUser
) -> JobAccepted:
    """Delete up to 100,000 heroes and their items; their transfer history stays."""
    return accepted(request, await records.accept(session, "bulk_delete_heroes", {"ids": body.ids}, admin.id))


@router.post(
    "/posts/bulk",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(429, 400),
    dependencies=[Depends(write_limit("jobs"))],
)
async def bulk_post_operation(
    body: BulkPostRequest, request: Request, session: SessionDep, admin: AdminUser
) -> JobAccepted:
    """Publish, archive or delete posts chosen by ids or by a filter."""
    arguments = body.model_dump(mode="json")
    return accepted(request, await records.accept(session, "bulk_post_operation", arguments, admin.id))


@router.get("/{job_id}", name="read_job_status", responses=problem_responses(404))
async def read_job_status(job_id: str, session: SessionDep, pool: JobPool, admin: AdminUser) -> JobRead:
    """A job's state from its durable record: queued, in_progress (with progress), complete (with
    result) or failed (with error). Answered for records.JOB_RECORD_RETENTION_DAYS after it finished."""
    job = await read_job(session, pool, job_id)
    if job is None:
        raise NotFound("job", job_id)
    return job
