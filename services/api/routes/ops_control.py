"""Ops controls: pause and resume a queue (admins only, audited), and the cron view (operators
and admins). Thin doors into shared.ops.pause and shared.ops.crons."""

from typing import Annotated

from fastapi import APIRouter, Path

from services.api.deps import AdminUser, JobPool, OperatorUser
from services.api.problems import problem_responses
from services.api.routes.ops import actor_of
from shared.jobs import registry
from shared.ops import crons, pause
from shared.ops.control_schemas import CronsView, QueuePauseState

router = APIRouter(prefix="/ops", tags=["ops"], responses=problem_responses(401, 403))

QueueName = Annotated[
    str,
    Path(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9:_.\-]+$",
        description="A queue's name (`guildhall:short`, `guildhall:bulk`) or its short name (`short`, `bulk`).",
    ),
]


@router.post("/queues/{queue}/pause", summary="Pause a queue", responses=problem_responses(404))
async def pause_queue(queue: QueueName, pool: JobPool, admin: AdminUser) -> QueuePauseState:
    """Stop the queue's workers claiming jobs (and running its crons) from their next poll; jobs
    already running finish. The pause lasts until resumed, across worker restarts. Pausing a paused
    queue changes nothing (`changed: false`). Admins only (an operator: 403); audited."""
    return await pause.pause_queue(pool, pause.queue_named(queue), actor_of(admin))


@router.post("/queues/{queue}/resume", summary="Resume a paused queue", responses=problem_responses(404))
async def resume_queue(queue: QueueName, pool: JobPool, admin: AdminUser) -> QueuePauseState:
    """Let the queue's workers claim jobs again from their next poll. Resuming a queue that is not
    paused changes nothing (`changed: false`). Admins only (an operator: 403); audited."""
    return await pause.resume_queue(pool, pause.queue_named(queue), actor_of(admin))


@router.get("/crons", summary="The periodic jobs")
async def read_crons(pool: JobPool, viewer: OperatorUser) -> CronsView:
    """Each periodic job (the sweepers, the fold, retention): its schedule, its last run (start,
    end, outcome, error), when it last completed and failed, and its next run. One Redis round trip."""
    return await crons.read_crons(pool, registry.crons())
