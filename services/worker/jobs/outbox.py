"""Short-queue jobs: processing outbox rows, and the sweeper that re-enqueues stragglers."""

import logging
from datetime import timedelta
from typing import Any

from redis.exceptions import RedisError

from services.worker.context import Ctx, settings_of, transaction
from shared.jobs import outbox
from shared.jobs.enqueue import enqueue_unique
from shared.jobs.outbox_handlers import audit_waiting, process
from shared.jobs.queues import Queue

logger = logging.getLogger(__name__)

SWEEP_BATCH = 500


async def process_outbox_message(ctx: Ctx, message_id: int) -> dict[str, Any]:
    """Audit a transfer or moderate a comment, as the outbox row says; idempotent."""
    async with transaction(ctx) as session:
        return await process(session, message_id, settings_of(ctx))


async def process_transfer_audits(ctx: Ctx) -> dict[str, int]:
    """Write every waiting transfer audit, in batches (the job of one window of commits; see
    shared.jobs.outbox.AUDIT_WINDOW_MS); idempotent: a row is written and marked in one transaction."""
    async with transaction(ctx) as session:
        return await audit_waiting(session)


async def sweep_outbox(ctx: Ctx) -> dict[str, int]:
    """Cron: enqueue rows still unprocessed after a short delay (Redis was down at commit,
    an enqueue was lost, a worker died). The deterministic job id makes a row that is
    already queued or running a no-op, so it never runs twice at once. Each real re-enqueue
    counts as a sweep; a row swept MAX_SWEEPS times is left as a dead letter for a person."""
    settings = settings_of(ctx)
    async with transaction(ctx) as session:
        waiting = await outbox.waiting(
            session, older_than=timedelta(seconds=settings.outbox_sweep_after_seconds), limit=SWEEP_BATCH
        )
    enqueued: list[int] = []
    for message_id in waiting:
        try:
            # A job of this id still queued or running is left alone; a result kept from an earlier
            # try (failed while PostgreSQL was down, say) does not delay this one.
            sent = await enqueue_unique(
                ctx["redis"],
                outbox.PROCESS_FUNCTION,
                job_id=outbox.job_id_for(message_id),
                queue=Queue.short,
                blocked_by_result=False,
                message_id=message_id,
            )
        except RedisError as error:
            logger.warning("sweeper could not enqueue outbox %s: %r", message_id, error)
            break
        if sent:
            enqueued.append(message_id)
    if enqueued:
        async with transaction(ctx) as session:
            await outbox.count_sweeps(session, enqueued)
        # The one INFO line of a sweep, and only of one that did something: arq's own lines for
        # cron runs are DEBUG (services.worker.logs), an empty pass every 5 s is no news.
        logger.info("outbox sweep: enqueued %d of %d waiting row(s) again", len(enqueued), len(waiting))
    return {"waiting": len(waiting), "enqueued": len(enqueued)}
