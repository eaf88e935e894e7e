"""Short-queue cron: the durable job records' sweeper (shared.jobs.records)."""

import logging
from datetime import timedelta

from redis.exceptions import RedisError

from services.worker.context import Ctx, settings_of, transaction
from shared.jobs import records
from shared.jobs.enqueue import enqueue_unique

logger = logging.getLogger(__name__)

# Oldest first, and the queued or running ones among them cost a no-op each: large enough that a
# backlog of accepted jobs never hides a lost trigger behind it for long.
SWEEP_BATCH = 1000


async def sweep_jobs(ctx: Ctx) -> dict[str, int]:
    """Send the trigger of every accepted job that is still unfinished after a short delay
    (Redis was down at its COMMIT, or restarted empty, or its worker died), and delete records
    finished longer ago than the retention. The trigger's id is the record's, so one still queued
    or running makes this a no-op (the job never runs twice at once); a result kept from an
    earlier try does not block it (that try's failure was not recorded: the database was gone)."""
    settings = settings_of(ctx)
    async with transaction(ctx) as session:
        stranded = await records.stranded(
            session, older_than=timedelta(seconds=settings.outbox_sweep_after_seconds), limit=SWEEP_BATCH
        )
        pruned = await records.prune(session)
    sent = 0
    for record in stranded:
        try:
            sent += await enqueue_unique(
                ctx["redis"],
                record.function,
                job_id=record.id,
                queue=record.queue,
                blocked_by_result=False,
                record_id=record.id,
            )
        except RedisError as error:
            logger.warning("job sweeper could not enqueue %s: %r", record.id, error)
            break
    if sent or pruned:  # one INFO line for a pass that did something; an empty pass says nothing
        logger.info("job sweep: re-sent the trigger of %d unfinished job(s), deleted %d old record(s)", sent, pruned)
    return {"unfinished": len(stranded), "enqueued": sent, "pruned": pruned}
