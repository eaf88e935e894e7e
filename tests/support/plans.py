"""PostgreSQL's plan for a statement exactly as the app sends it, for the EXPLAIN tests."""

from sqlalchemy import Executable
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
