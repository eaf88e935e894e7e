"""Outbox messages as the worker tests make and send them."""

from typing import Any

from arq import ArqRedis
from arq.jobs import Job
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.jobs import outbox
from shared.jobs.enqueue import enqueue as enqueue_job
from shared.jobs.outbox import PROCESS_OUTBOX_MESSAGE
from shared.models.base import now_utc
from shared.models.jobs import OutboxMessage, OutboxTopic
from tests.shared.factories import make_hero, make_team


async def enqueue_message(pool: ArqRedis, message_id: int) -> Job | None:
    """The outbox job for one message, under the job id the outbox gives it."""
    return await enqueue_job(pool, PROCESS_OUTBOX_MESSAGE, job_id=outbox.job_id_for(message_id), message_id=message_id)


async def transfer_message(session: AsyncSession, key: str | None = None) -> tuple[OutboxMessage, dict[str, Any]]:
    """A committed transfer-audit message for a new hero moving to a new team, and its payload."""
    hero, team = await make_hero(session), await make_team(session)
    payload = {
        "hero_id": hero.id,
        "from_team_id": None,
        "to_team_id": team.id,
        "transfer_date": now_utc().isoformat(),
        "requested_by_id": None,
        "idempotency_key": key,
    }
    message = await outbox.record(session, OutboxTopic.transfer_audit, payload)
    await session.commit()
    return message, payload
