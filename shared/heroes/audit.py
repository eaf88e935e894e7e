"""Writing the TransferLogs of committed transfers (the worker's half of the transfer outbox)."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.errors import constraint_errors
from shared.models.base import now_utc
from shared.models.heroes import TransferLog


def _log_row(payload: dict[str, Any], logged_at: datetime) -> dict[str, Any]:
    return {
        "hero_id": payload["hero_id"],
        "from_team_id": payload.get("from_team_id"),
        "to_team_id": payload.get("to_team_id"),
        "transfer_date": datetime.fromisoformat(payload["transfer_date"]),
        "requested_by_id": payload.get("requested_by_id"),
        "idempotency_key": payload.get("idempotency_key"),
        "logged_at": logged_at,
    }


async def write_transfer_logs(session: AsyncSession, payloads: Sequence[dict[str, Any]]) -> list[int]:
    """One TransferLog per outbox payload, in ONE multi-row INSERT; their ids, in payload order.

    The caller holds the outbox rows' locks and marks them processed in the same transaction:
    exactly one log per committed transfer."""
    logged_at = now_utc()
    rows = [_log_row(payload, logged_at) for payload in payloads]
    table = TransferLog.__table__
    # sort_by_parameter_order: SQLAlchemy's insertmanyvalues guarantees the ids come back in row order.
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    with constraint_errors():
        result = await session.exec(statement, params=rows)  # type: ignore[call-overload]
    return [row[0] for row in result.all()]
