"""PostgreSQL's plan for a statement exactly as the app sends it, for the EXPLAIN tests."""

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import Executable, event
from sqlalchemy.sql import ClauseElement
from sqlmodel.ext.asyncio.session import AsyncSession


async def explain(session: AsyncSession, statement: Executable) -> tuple[str, str]:
    """The SQL sent and its plan: compiled by the connection's own dialect (asyncpg, $n
    parameters), with its own bound values."""
    assert isinstance(statement, ClauseElement)
    connection = await session.connection()
    compiled = statement.compile(dialect=connection.dialect)
    params = tuple(compiled.params[name] for name in compiled.positiontup or ())
    plan = await connection.exec_driver_sql(f"EXPLAIN {compiled}", params)
    return str(compiled), "\n".join(row[0] for row in plan.all())


async def explain_what_runs(session: AsyncSession, work: Callable[[], Awaitable[object]]) -> list[str]:
    """The plan of each statement `work` sends on the session's connection, as sent (its SQL and
    its parameters, caught before the driver runs them), for reads whose statement is built inside."""
    connection = await session.connection()
    sent: list[tuple[str, Any]] = []

    def catch(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    event.listen(connection.sync_connection, "before_cursor_execute", catch)
    try:
        await work()
    finally:
        event.remove(connection.sync_connection, "before_cursor_execute", catch)
    plans = []
    for statement, parameters in sent:
        plan = await connection.exec_driver_sql(f"EXPLAIN {statement}", parameters)
        plans.append("\n".join(row[0] for row in plan.all()))
    return plans
