"""What a transaction-mode pooler (PgBouncer `pool_mode = transaction`, a managed PostgreSQL's pooler)
takes from a client, and how Guildhall gives it (DB_POOLER=transaction).

Such a pooler hands each transaction whichever server connection is free, so nothing may live in a
server session across transactions:

- no startup parameters but the few a pooler forwards (PgBouncer 1.18 refuses `statement_timeout`
  and its kin outright: every connection failed), so the statement, lock and idle-in-transaction
  bounds are set with SET LOCAL in each transaction;
- no named prepared statements (asyncpg's and SQLAlchemy's statement caches off: asyncpg then uses
  the unnamed statement, which lives until the next Parse on the same server connection);
- advisory locks only transaction-scoped (pg_advisory_xact_lock; tests/topology checks none is
  held by an idle service).

The bounds ride on the transaction's BEGIN: asyncpg sends BEGIN as a simple query, and a simple
query may carry several statements, so `BEGIN; SET LOCAL ...` costs no round trip more than
BEGIN alone. A pooler assigns the server connection at BEGIN and keeps it to COMMIT, so the SET
LOCALs apply to exactly this transaction's statements.
"""

from typing import Any

import asyncpg

# asyncpg's own spelling of a top-level transaction's start (asyncpg.transaction.Transaction.start);
# SAVEPOINTs (nested transactions) inherit the outer transaction's settings.
_BEGIN = "BEGIN"


def set_local_sql(settings: dict[str, str]) -> str:
    """`SET LOCAL name = 'value';` for each setting (the values are integers of our own settings;
    quoted all the same, as SET takes a literal and no parameter)."""
    return "".join(f"SET LOCAL {name} = '{value.replace(chr(39), chr(39) * 2)}';" for name, value in settings.items())


def bounded_connection_class(settings: dict[str, str]) -> type[asyncpg.Connection]:
    """An asyncpg Connection whose every top-level BEGIN also sets `settings` for its transaction."""
    suffix = set_local_sql(settings)

    class TransactionBoundedConnection(asyncpg.Connection):  # type: ignore[misc]  # asyncpg ships no type hints: its Connection is Any
        __slots__ = ()

        async def execute(self, query: str, *args: Any, timeout: float | None = None) -> str:  # noqa: ASYNC109 (asyncpg's signature)
            if not args and query.startswith(_BEGIN):
                query = f"{query.rstrip().rstrip(';')};{suffix}"
            result: str = await super().execute(query, *args, timeout=timeout)
            return result

    return TransactionBoundedConnection


def connect_args(settings: dict[str, str]) -> dict[str, object]:
    """asyncpg connect arguments for a transaction-mode pooler (see the module's docstring)."""
    return {
        "connection_class": bounded_connection_class(settings),
        "statement_cache_size": 0,  # asyncpg's: with it off, statements are unnamed
        "prepared_statement_cache_size": 0,  # SQLAlchemy's asyncpg dialect's own cache of prepared statements
    }
