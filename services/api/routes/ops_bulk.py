"""Bulk actions on jobs (shared.ops.bulk_actions): retry, abort or discard a list of jobs, or
every job a filter matches; a dry run previews. Admins only (an operator: 403); audited."""

from fastapi import APIRouter

from services.api.deps import AdminUser, JobPool, SessionDep
from services.api.problems import BODY_ERRORS, problem_responses
from services.api.routes.ops import actor_of
from shared.ops import bulk_actions
from shared.ops.dead_letter_schemas import ActionResult, JobsActionRequest

router = APIRouter(prefix="/ops", tags=["ops"], responses=problem_responses(401, 403))


@router.post("/jobs/actions", summary="Act on many jobs", responses=problem_responses(*BODY_ERRORS))
async def act_on_jobs(body: JobsActionRequest, pool: JobPool, session: SessionDep, admin: AdminUser) -> ActionResult:
    """`retry` failed jobs, `abort` queued, deferred or running ones, `discard` finished ones (their
    result and failure record forgotten; a bulk job's record deleted), named by `ids` (at most 1,000)
    or matched by `filter` (function, status, queue; at most 1,000 acted on per request, `remaining`
    says how many are left). Each job's outcome: ok, not_found, or conflict naming the rule.
    `dry_run` counts and changes nothing. Admins only (an operator: 403); one audit entry per action."""
    return await bulk_actions.run(session, pool, body, actor_of(admin))
