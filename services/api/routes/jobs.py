"""Background jobs (admins): submit bulk work, and follow it."""

from typing import Annotated

from arq import ArqRedis
from fastapi import APIRouter, Depends, Request, status

from services.api.deps import AdminUser
from services.api.problems import problem_responses
from shared.blog.bulk import BulkPostRequest
from shared.errors import NotFound
from shared.heroes.bulk import BulkHeroDeleteRequest, BulkHeroUpdateRequest
from shared.jobs.status import JobRead, read_job
from shared.jobs.submit import JobAccepted, submit

router = APIRouter(prefix="/jobs", tags=["jobs"], responses=problem_responses(401, 403, 413, 422, 503))


def job_pool(request: Request) -> ArqRedis:
    pool: ArqRedis = request.app.state.job_pool
    return pool


JobPool = Annotated[ArqRedis, Depends(job_pool)]


def accepted(request: Request, job_id: str) -> JobAccepted:
    return JobAccepted(job_id=job_id, status_url=str(request.url_for("read_job_status", job_id=job_id).path))


@router.post("/heroes/bulk-update", status_code=status.HTTP_202_ACCEPTED)
async def bulk_update_heroes(
    body: BulkHeroUpdateRequest, request: Request, pool: JobPool, admin: AdminUser
) -> JobAccepted:
    """Update up to 100,000 heroes in one all-or-nothing job; fields validated like PATCH /heroes/{id}."""
    return accepted(request, await submit(pool, "bulk_update_heroes", items=body.items))


@router.post("/heroes/bulk-delete", status_code=status.HTTP_202_ACCEPTED)
async def bulk_delete_heroes(
    body: BulkHeroDeleteRequest, request: Request, pool: JobPool, admin: AdminUser
) -> JobAccepted:
    """Delete up to 100,000 heroes and their items; their transfer history stays."""
    return accepted(request, await submit(pool, "bulk_delete_heroes", ids=body.ids))


@router.post("/posts/bulk", status_code=status.HTTP_202_ACCEPTED)
async def bulk_post_operation(body: BulkPostRequest, request: Request, pool: JobPool, admin: AdminUser) -> JobAccepted:
    """Publish, archive or delete posts chosen by ids or by a filter."""
    return accepted(request, await submit(pool, "bulk_post_operation", request=body.model_dump(mode="json")))


@router.get("/{job_id}", name="read_job_status", responses=problem_responses(404))
async def read_job_status(job_id: str, pool: JobPool, admin: AdminUser) -> JobRead:
    """A job's state: queued, in_progress (with progress), complete (with result) or failed (with error)."""
    job = await read_job(pool, job_id)
    if job is None:
        raise NotFound("job", job_id)
    return job
