"""What processing an outbox row means, per topic. One transaction: the effect and the
`processed_at` mark commit together, so the effect happens exactly once per row."""

from collections.abc import Awaitable, Callable
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import flush
from shared.heroes.audit import write_transfer_log
from shared.jobs import outbox
from shared.models import OutboxMessage, OutboxTopic
from shared.moderation.service import moderate_comment
from shared.settings import Settings

Handler = Callable[[AsyncSession, OutboxMessage, Settings], Awaitable[dict[str, Any]]]


async def _audit_transfer(session: AsyncSession, message: OutboxMessage, settings: Settings) -> dict[str, Any]:
    log = await write_transfer_log(session, message.payload)
    return {"transfer_log_id": log.id}


async def _moderate(session: AsyncSession, message: OutboxMessage, settings: Settings) -> dict[str, Any]:
    decision = await moderate_comment(session, message.payload["comment_id"], settings)
    if decision is None:
        return {"comment_id": message.payload["comment_id"], "state": None}  # deleted meanwhile
    return {"comment_id": decision.comment_id, "state": decision.state, "reason": decision.reason}


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
