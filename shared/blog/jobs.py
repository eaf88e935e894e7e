"""The blog's jobs: bulk post operations (a durable job record, shared.jobs.recorded), and the
outbox handler that moderates a comment once it commits (shared.blog.moderation)."""

from collections.abc import Mapping
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from shared.blog import bulk
from shared.blog.bulk_schemas import BulkPostRequest
from shared.blog.moderation import moderate_comment
from shared.jobs import records
from shared.jobs.context import Ctx
from shared.jobs.queues import Queue
from shared.jobs.recorded import run_recorded
from shared.jobs.spec import CronSpec, JobSpec, OutboxHandler
from shared.models.jobs import OutboxMessage, OutboxTopic
from shared.settings import Settings


async def bulk_post_operation(ctx: Ctx, record_id: str) -> dict[str, Any]:
    """Publish, archive or delete posts chosen by ids or a filter, in one statement."""

    async def work(session: AsyncSession) -> dict[str, Any]:
        request = BulkPostRequest.model_validate(await records.arguments(session, record_id))
        return await bulk.run(session, request)

    return await run_recorded(ctx, record_id, work)


async def moderate(session: AsyncSession, message: OutboxMessage, settings: Settings) -> dict[str, Any]:
    """The outbox handler of comment_moderation: decide the comment by the rules."""
    decision = await moderate_comment(session, message.payload["comment_id"], settings)
    if decision is None:
        return {"comment_id": message.payload["comment_id"], "state": None}  # deleted meanwhile
    return {"comment_id": decision.comment_id, "state": decision.state, "reason": decision.reason}


BULK_POST_OPERATION = JobSpec(bulk_post_operation, Queue.bulk, max_tries=3, recorded=True)

JOBS: tuple[JobSpec, ...] = (BULK_POST_OPERATION,)
CRONS: tuple[CronSpec, ...] = ()
OUTBOX_HANDLERS: Mapping[OutboxTopic, OutboxHandler] = {OutboxTopic.comment_moderation: OutboxHandler(moderate)}


async def accept_bulk(session: AsyncSession, request: BulkPostRequest, submitted_by: int | None) -> str:
    """Accept a bulk post operation in the caller's transaction (the request is its record's
    arguments); the job's id."""
    return await records.accept(session, BULK_POST_OPERATION, request.model_dump(mode="json"), submitted_by)
