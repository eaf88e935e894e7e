"""The jobs infrastructure's own declarations: the generic outbox job (shared.jobs.outbox), the
two sweepers, cron jobs of the short queue that re-send what Redis lost (outbox rows, accepted job
records), and retention's cron (shared.jobs.retention). shared.jobs.registry collects these beside
the domains' jobs.py."""

import logging
from collections.abc import Mapping
from datetime import timedelta

from redis.exceptions import RedisError

from shared.jobs import outbox, records, retention
from shared.jobs.context import Ctx, settings_of, transaction
from shared.jobs.enqueue import enqueue_unique
from shared.jobs.outbox import PROCESS_OUTBOX_MESSAGE
from shared.jobs.queues import Queue
from shared.jobs.spec import CronSpec, JobSpec, OutboxHandler
from shared.models.jobs import OutboxTopic

logger = logging.getLogger(__name__)

SWEEP_EVERY_SECONDS = 5
SWEEP_TIMEOUT_SECONDS = 20
OUTBOX_SWEEP_BATCH = 500
# Oldest first, and the queued or running ones among them cost a no-op each: large enough that a
# backlog of accepted jobs never hides a lost trigger behind it for long.
JOB_SWEEP_BATCH = 1000


async def sweep_outbox(ctx: Ctx) -> dict[str, int]:
    """Cron: enqueue rows still unprocessed after a short delay (Redis was down at commit,
    an enqueue was lost, a worker died). The deterministic job id makes a row that is
    already queued or running a no-op, so it never runs twice at once. Each real re-enqueue
    counts as a sweep; a row swept MAX_SWEEPS times is left as a dead letter for a person."""
    settings = settings_of(ctx)
    async with transaction(ctx) as session:
        waiting = await outbox.waiting(
            session, older_than=timedelta(seconds=settings.outbox_sweep_after_seconds), limit=OUTBOX_SWEEP_BATCH
        )
    enqueued: list[int] = []
    for message_id in waiting:
        try:
            # A job of this id still queued or running is left alone; a result kept from an earlier
            # try (failed while PostgreSQL was down, say) does not delay this one.
            sent = await enqueue_unique(
                ctx["redis"],
                PROCESS_OUTBOX_MESSAGE.name,
                job_id=outbox.job_id_for(message_id),
                queue=PROCESS_OUTBOX_MESSAGE.queue,
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


async def sweep_jobs(ctx: Ctx) -> dict[str, int]:
    """Cron: send the trigger of every accepted job that is still unfinished after a short delay
    (Redis was down at its COMMIT, or restarted empty, or its worker died). The trigger's id is the
    record's, so one still queued or running makes this a no-op (the job never runs twice at once);
    a result kept from an earlier try does not block it (that try's failure was not recorded: the
    database was gone). Old finished records are retention's (shared.jobs.retention), not this
    pass's: a DELETE here would make every 5-second pass as long as the backlog of old records."""
    settings = settings_of(ctx)
    async with transaction(ctx) as session:
        stranded = await records.stranded(
            session, older_than=timedelta(seconds=settings.outbox_sweep_after_seconds), limit=JOB_SWEEP_BATCH
        )
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
    if sent:  # one INFO line for a pass that did something; an empty pass says nothing
        logger.info("job sweep: re-sent the trigger of %d unfinished job(s)", sent)
    return {"unfinished": len(stranded), "enqueued": sent}


JOBS: tuple[JobSpec, ...] = (PROCESS_OUTBOX_MESSAGE,)
CRONS: tuple[CronSpec, ...] = (
    CronSpec(sweep_outbox, Queue.short, every_seconds=SWEEP_EVERY_SECONDS, timeout_seconds=SWEEP_TIMEOUT_SECONDS),
    # Accepted bulk jobs whose trigger Redis lost (shared.jobs.records).
    CronSpec(sweep_jobs, Queue.short, every_seconds=SWEEP_EVERY_SECONDS, timeout_seconds=SWEEP_TIMEOUT_SECONDS),
    # What is kept only so long (processed outbox rows, idempotency keys, finished job records), deleted
    # in short batches: a cron of its own, so a backlog of old rows never lengthens the sweeps above.
    retention.PRUNE_RETAINED,
)
OUTBOX_HANDLERS: Mapping[OutboxTopic, OutboxHandler] = {}
