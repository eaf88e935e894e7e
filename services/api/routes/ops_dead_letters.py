"""Dead letters (shared.ops.dead_letters): work given up on, in one paged view for operators and
admins; requeued or discarded, one at a time or by a filter, by admins only (audited)."""

from typing import Annotated

from fastapi import APIRouter, Path, Query

from services.api.deps import CURSOR_MAX_LENGTH, AdminUser, JobPool, OperatorUser, SessionDep
from services.api.problems import BODY_ERRORS, problem_responses
from services.api.routes.ops import actor_of
from shared.ops import dead_letter_actions, dead_letters
from shared.ops.dead_letter_schemas import (
    ActionResult,
    DeadLetterAction,
    DeadLetterActionRequest,
    DeadLetterFilter,
    DeadLetterKind,
    DeadLetterPage,
)
from shared.schemas import IsoTime

router = APIRouter(prefix="/ops/dead-letters", tags=["ops"], responses=problem_responses(401, 403))

Limit = Annotated[int, Query(ge=1, le=100, description="page size")]
LetterId = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9:_.\-]+$")]


@router.get("", summary="List the dead letters", responses=problem_responses(422))
async def list_dead_letters(
    pool: JobPool,
    session: SessionDep,
    viewer: OperatorUser,
    kind: DeadLetterKind | None = None,
    function: Annotated[
        str | None, Query(min_length=1, max_length=100, description="a function, or an outbox topic")
    ] = None,
    since: Annotated[IsoTime | None, Query(description="given up at or after")] = None,
    until: Annotated[IsoTime | None, Query(description="given up before")] = None,
    cursor: Annotated[str | None, Query(max_length=CURSOR_MAX_LENGTH)] = None,
    limit: Limit = 50,
) -> DeadLetterPage:
    """Outbox rows the sweeper gave up on, failed jobs with no retry left, and failed bulk job
    records, newest first (keyset-paged: pass `next_cursor` back as `cursor`)."""
    flt = DeadLetterFilter(kind=kind, function=function, since=since, until=until)
    return await dead_letters.page(session, pool, flt, cursor, limit)


@router.post(
    "/actions",
    summary="Requeue or discard the dead letters a filter matches",
    responses=problem_responses(*BODY_ERRORS),
)
async def act_on_dead_letters(
    body: DeadLetterActionRequest, pool: JobPool, session: SessionDep, admin: AdminUser
) -> ActionResult:
    """Every dead letter the filter matches, newest first, at most `cap` per request (`remaining`
    says how many are left for the next); `dry_run` counts and changes nothing. Admins only; audited."""
    return await dead_letter_actions.act_on_filter(session, pool, body, actor_of(admin))


@router.post("/{kind}/{letter_id}/requeue", summary="Requeue a dead letter", responses=problem_responses(404, 409))
async def requeue_dead_letter(
    kind: DeadLetterKind, letter_id: LetterId, pool: JobPool, session: SessionDep, admin: AdminUser
) -> ActionResult:
    """An outbox row is swept again (delivered once), a failed job runs again as `<id>:retry`, a
    failed record is queued again under its id. Admins only; audited."""
    return await dead_letter_actions.act_on_one(
        session, pool, DeadLetterAction.requeue, kind, letter_id, actor_of(admin)
    )


@router.post("/{kind}/{letter_id}/discard", summary="Discard a dead letter", responses=problem_responses(404, 409))
async def discard_dead_letter(
    kind: DeadLetterKind, letter_id: LetterId, pool: JobPool, session: SessionDep, admin: AdminUser
) -> ActionResult:
    """An outbox row or a record is deleted (the audit entry keeps its id), a failed job's result
    forgotten. Admins only; audited."""
    return await dead_letter_actions.act_on_one(
        session, pool, DeadLetterAction.discard, kind, letter_id, actor_of(admin)
    )
