"""Writing the TransferLogs of committed transfers (the worker's half of the transfer outbox).

Transfer audits are batched (`audit_waiting`): a job claims every waiting audit row (SKIP LOCKED, so
rows another job holds are left to it) and writes their logs with one INSERT per AUDIT_BATCH.
Transfers do not enqueue a job per row: those committed within one window share a job
(AUDIT_WINDOW_MS, declared with the topic's handler in shared/heroes/jobs.py); a row the sweeper
re-enqueues gets its own job (`audit_transfer`), which writes its log and then the others'.
Delivery stays at-least-once per row: whatever is left waiting, the sweeper enqueues again.
"""

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.errors import constraint_errors
from shared.jobs import outbox
from shared.models.base import now_utc, table_of
from shared.models.heroes import TransferLog
from shared.models.jobs import OutboxMessage, OutboxTopic
from shared.settings import Settings

# Every transfer committed within the same AUDIT_WINDOW_MS asks for one job, which runs once the
# window has ended and writes all of them (and any other waiting audit) in one batch. 200
# transfers/s make 20 jobs/s, not 200.
AUDIT_WINDOW_MS = 50
AUDIT_BATCH = 500

logger = logging.getLogger(__name__)


def _log_row(message_id: int, payload: Mapping[str, Any], logged_at: datetime) -> dict[str, Any]:
    return {
        "outbox_message_id": message_id,
        "hero_id": payload["hero_id"],
        "from_team_id": payload.get("from_team_id"),
        "to_team_id": payload.get("to_team_id"),
        "transfer_date": datetime.fromisoformat(payload["transfer_date"]),
        "requested_by_id": payload.get("requested_by_id"),
        "idempotency_key": payload.get("idempotency_key"),
        "logged_at": logged_at,
    }


async def write_transfer_logs(session: AsyncSession, messages: Sequence[tuple[int, Mapping[str, Any]]]) -> list[int]:
    """One TransferLog per outbox row (its id and payload), in ONE multi-row INSERT; their ids, in
    row order.

    The caller holds the outbox rows' locks and marks them processed in the same transaction:
    exactly one log per committed transfer (and uq_transfer_log_outbox_message_id says so too)."""
    logged_at = now_utc()
    rows = [_log_row(message_id, payload, logged_at) for message_id, payload in messages]
    table = table_of(TransferLog)
    # sort_by_parameter_order: SQLAlchemy's insertmanyvalues guarantees the ids come back in row order.
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    with constraint_errors():
        result = await session.exec(statement, params=rows)
    return [row[0] for row in result.all()]


async def audit_transfer(session: AsyncSession, message: OutboxMessage, settings: Settings) -> dict[str, Any]:
    """The outbox handler of one transfer_audit row: its log, then every other waiting audit's
    (the sweeper re-enqueued this one row)."""
    assert message.id is not None
    [log_id] = await write_transfer_logs(session, [(message.id, message.payload)])
    others = await audit_waiting(session, exclude=message.id)
    return {"transfer_log_id": log_id, "batched": others["logged"]}


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
                await write_transfer_logs(session, rows)
                await outbox.mark_all_processed(session, [message_id for message_id, _ in rows])
            logged += len(rows)
        except Exception as error:
            logger.warning("audit batch of %d rows failed (%r); writing them one by one", len(rows), error)
            for message_id, payload in rows:
                try:
                    async with session.begin_nested():
                        await write_transfer_logs(session, [(message_id, payload)])
                        await outbox.mark_all_processed(session, [message_id])
                    logged += 1
                except Exception as row_error:
                    failed += 1
                    logger.warning("outbox %s left waiting: %r", message_id, row_error)
            if failed:  # the unreadable rows would be claimed again at once: leave them to the sweeper
                return {"logged": logged, "failed": failed}
        if len(rows) < batch:
            return {"logged": logged, "failed": failed}
