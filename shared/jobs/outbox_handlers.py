"""What processing an outbox row means, per topic. One transaction: the effect and the
`processed_at` mark commit together, so the effect happens exactly once per row.

Transfer audits are batched (audit_waiting): a job claims every waiting audit row (SKIP LOCKED, so
rows another job holds are left to it) and writes their logs with one INSERT per 500. Transfers do
not enqueue a job per row: those committed within one window share a job (see
shared.jobs.outbox.AUDIT_WINDOW_MS); a row the sweeper re-enqueues gets its own job, which writes
its log and then the others'. Delivery stays at-least-once per row: whatever is left waiting, the
sweeper enqueues again.
"""

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import flush
from shared.heroes.audit import write_transfer_logs
from shared.jobs import outbox
from shared.models.jobs import OutboxMessage, OutboxTopic
from shared.moderation.service import moderate_comment
from shared.settings import Settings

Handler = Callable[[AsyncSession, OutboxMessage, Settings], Awaitable[dict[str, Any]]]


AUDIT_BATCH = 500

logger = logging.getLogger(__name__)


async def _audit_transfer(session: AsyncSession, message: OutboxMessage, settings: Settings) -> dict[str, Any]:
    """This row's log, then every other waiting audit's (the sweeper re-enqueued this one row)."""
    assert message.id is not None
    [log_id] = await write_transfer_logs(session, [message.payload])
    others = await audit_waiting(session, exclude=message.id)
    return {"transfer_log_id": log_id, "batched": others["logged"]}


async def _moderate(session: AsyncSession, message: OutboxMessage, settings: Settings) -> dict[str, Any]:
    decision = await moderate_comment(session, message.payload["comment_id"], settings)
    if decision is None:
        return {"comment_id": message.payload["comment_id"], "state": None}  # deleted meanwhile
    return {"comment_id": decision.comment_id, "state": decision.state, "reason": decision.reason}


async def audit_waiting(session: AsyncSession, *, batch: int = AUDIT_BATCH, exclude: int = 0) -> dict[str, int]:
    """Write the logs of every waiting transfer audit, `batch` rows per INSERT, until none waits
    (rows other transactions hold are theirs: SKIP LOCKED). A batch that fails is retried row by
    row, each in its own savepoint: an unreadable row stays waiting (its sweeper job will fail and
    say why), the others are written."""
    logged = failed = 0
    while True:
        rows = await outbox.claim_waiting(session, OutboxTopic.transfer_audit, limit=batch, exclude=exclude)
        if not rows:
            return {"logged": logged, "failed": failed}
        try:
            async with session.begin_nested():
                await write_transfer_logs(session, [payload for _, payload in rows])
                await outbox.mark_all_processed(session, [message_id for message_id, _ in rows])
            logged += len(rows)
        except Exception as error:
            logger.warning("audit batch of %d rows failed (%r); writing them one by one", len(rows), error)
            for message_id, payload in rows:
                try:
                    async with session.begin_nested():
                        await write_transfer_logs(session, [payload])
                        await outbox.mark_all_processed(session, [message_id])
                    logged += 1
                except Exception as row_error:
                    failed += 1
                    logger.warning("outbox %s left waiting: %r", message_id, row_error)
            if failed:  # the unreadable rows would be claimed again at once: leave them to the sweeper
                return {"logged": logged, "failed": failed}
        if len(rows) < batch:
            return {"logged": logged, "failed": failed}


HANDLERS: dict[str, Handler] = {
    OutboxTopic.transfer_audit: _audit_transfer,
    OutboxTopic.comment_moderation: _moderate,
}


async def process(session: AsyncSession, message_id: int, settings: Settings) -> dict[str, Any]:
    """Process one outbox row if it still waits; a second run (at-least-once) finds it done."""
    message = await outbox.lock_pending(session, message_id)
    if message is None:
        return {"message_id": message_id, "skipped": "already processed or gone"}
    result = await HANDLERS[message.topic](session, message, settings)
    outbox.mark_processed(message)
    await flush(session)
    return {"message_id": message_id, "topic": message.topic, **result}
