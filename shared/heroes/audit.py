"""Writing the TransferLog of a committed transfer (the worker's half of the transfer outbox)."""

from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import flush
from shared.models import TransferLog


async def write_transfer_log(session: AsyncSession, payload: dict[str, Any]) -> TransferLog:
    """One TransferLog from the outbox payload the transfer committed. The caller holds the
    outbox row's lock and marks it processed in the same transaction: exactly one log each."""
    log = TransferLog(
        hero_id=payload["hero_id"],
        from_team_id=payload.get("from_team_id"),
        to_team_id=payload.get("to_team_id"),
        transfer_date=datetime.fromisoformat(payload["transfer_date"]),
        requested_by_id=payload.get("requested_by_id"),
        idempotency_key=payload.get("idempotency_key"),
    )
    session.add(log)
    await flush(session)
    return log
