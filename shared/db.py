"""The async engine and session factory shared by the API and the worker.

The edge (a request, a job) owns a session and decides commit or rollback; code
below it receives the session and only flushes. What must wait for the COMMIT (a job's enqueue:
shared.jobs.after_commit) is registered on the session with `on_commit`, and dropped on rollback
(`on_rollback` callbacks run instead): the unit of work runs them, knowing nothing of what they do,
so this leaf module imports no package above it.
"""

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSessionBase
from sqlmodel.ext.asyncio.session import AsyncSession

from shared import pooler
from shared.errors import OutcomeUnknown, constraint_errors, unavailable
from shared.settings import Settings, get_settings

if TYPE_CHECKING:
    from arq import ArqRedis

# session.info keys: the pool the session's after-commit jobs go to (set by the unit of work, read
# by shared.jobs.after_commit), and the callbacks to run once it commits or rolls back.
JOB_POOL = "guildhall.job_pool"
_ON_COMMIT = "guildhall.on_commit"
_ON_ROLLBACK = "guildhall.on_rollback"

# On SQLAlchemy's session class (SQLModel's derives from it): what the callbacks need of it.
AfterCommit = Callable[[AsyncSessionBase], Awaitable[None]]
AfterRollback = Callable[[AsyncSessionBase], None]


def on_commit(session: AsyncSessionBase, callback: AfterCommit, *, or_else: AfterRollback | None = None) -> None:
    """Run `callback(session)` once the unit of work has committed (never raising into it: the
    callback logs its own failures), or `or_else(session)` if it rolls back instead. A callback
    already registered on this session is not registered twice."""
    callbacks: list[AfterCommit] = session.info.setdefault(_ON_COMMIT, [])
    if callback not in callbacks:
        callbacks.append(callback)
    if or_else is not None:
        fallbacks: list[AfterRollback] = session.info.setdefault(_ON_ROLLBACK, [])
        if or_else not in fallbacks:
            fallbacks.append(or_else)


def _rolled_back(session: AsyncSessionBase) -> None:
    session.info.pop(_ON_COMMIT, None)
    for fallback in session.info.pop(_ON_ROLLBACK, []):
        fallback(session)


async def _committed(session: AsyncSessionBase) -> None:
    session.info.pop(_ON_ROLLBACK, None)
    for callback in session.info.pop(_ON_COMMIT, []):
        await callback(session)


@dataclass(frozen=True)
class WaitLimits:
    """PostgreSQL's own bounds on one connection's work (set at connect, or per transaction behind a
    pooler), and how long to wait for a pooled connection. A limit hit is DatabaseUnavailable
    (HTTP 503), never a hang."""

    statement_timeout_ms: int
    lock_timeout_ms: int
    pool_timeout_seconds: float
    # A transaction left open and idle this long is ended by the server, freeing its locks.
    idle_in_transaction_timeout_ms: int = 60_000

    def server_settings(self) -> dict[str, str]:
        return {
            "statement_timeout": str(self.statement_timeout_ms),
            "lock_timeout": str(self.lock_timeout_ms),
            "idle_in_transaction_session_timeout": str(self.idle_in_transaction_timeout_ms),
        }

    @classmethod
    def for_requests(cls, settings: Settings) -> "WaitLimits":
        return cls(settings.db_statement_timeout_ms, settings.db_lock_timeout_ms, settings.db_pool_timeout_seconds)

    @classmethod
    def for_jobs(cls, settings: Settings, job_timeout_seconds: int) -> "WaitLimits":
        return cls(job_timeout_seconds * 1000, settings.job_lock_timeout_ms, settings.db_pool_timeout_seconds)


def json_text(value: object) -> str:
    """JSON/JSONB parameters (job arguments of up to 100,000 items, outbox payloads, stored
    responses): orjson writes 100,000 items in ~7 ms where the standard library takes ~50 ms.
    Non-string keys are written as strings, as the standard library does."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def create_engine(
    settings: Settings | None = None,
    *,
    limits: WaitLimits | None = None,
    url: str | None = None,
    **overrides: object,
) -> AsyncEngine:
    """The engine of DATABASE_URL (or `url`: the replica's, say), with the bounds of `limits` on
    every connection. Behind a transaction-mode pooler (DB_POOLER=transaction) the bounds are set
    per transaction and no prepared statement is named (shared.pooler); direct, they are set once
    per connection, at connect."""
    settings = settings or get_settings()
    limits = limits or WaitLimits.for_requests(settings)
    bounds = limits.server_settings()
    if settings.db_pooler == "transaction":
        connect_args: dict[str, object] = pooler.connect_args(bounds)
    else:
        connect_args = {"server_settings": bounds}
    # A server that stops answering (network partition) must not hold a connect for ever.
    connect_args["timeout"] = limits.pool_timeout_seconds
    options: dict[str, object] = {
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_max_overflow,
        "pool_timeout": limits.pool_timeout_seconds,
        # No pre-ping: SQLAlchemy's asyncpg ping is BEGIN, a statement and ROLLBACK, three round
        # trips on every checkout. A connection that died with its server fails its first statement
        # instead (DatabaseUnavailable, 503), and SQLAlchemy then invalidates the pool's older ones.
        "pool_pre_ping": False,
        "echo": settings.db_echo,
        "json_serializer": json_text,
        "json_deserializer": orjson.loads,
        "connect_args": connect_args,
    }
    options.update(overrides)
    return create_async_engine(url or settings.database_url, **options)


def create_session_factory(bind: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: objects stay readable after commit; under asyncio an
    # expired attribute would need an implicit (forbidden) lazy load to refresh.
    return async_sessionmaker(bind, class_=AsyncSession, expire_on_commit=False, autoflush=False)


def create_read_session_factory(bind: AsyncEngine, settings: Settings) -> async_sessionmaker[AsyncSession]:
    """Sessions for requests that only read (the API's GETs, whose reads are one statement each:
    a post, a page): no transaction around their statements (AUTOCOMMIT), so a read is one round
    trip, not BEGIN, the SELECT and COMMIT. A statement sees one snapshot by itself; a read of two
    statements sees two (the later one may see a commit the first did not), which no read here
    depends on. Never for writes.

    Behind a transaction-mode pooler the statement and lock bounds ride on each BEGIN
    (shared.pooler): a statement outside a transaction would run unbounded, so there reads keep
    their transaction."""
    if settings.db_pooler == "transaction":
        return create_session_factory(bind)
    return create_session_factory(bind.execution_options(isolation_level="AUTOCOMMIT"))


def reads_outside_transactions(factory: async_sessionmaker[AsyncSession]) -> bool:
    """Whether `factory`'s sessions run each statement by itself (AUTOCOMMIT, as
    create_read_session_factory makes them off a pooler): there is then nothing to commit."""
    bind = factory.kw.get("bind")
    return isinstance(bind, AsyncEngine) and bind.get_execution_options().get("isolation_level") == "AUTOCOMMIT"


@asynccontextmanager
async def read_only(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session of `factory` (one whose reads_outside_transactions) for a request that only reads:
    closed at the end, never committed (each statement was its own transaction), and its closing
    sends nothing to the server (no transaction to end), so it is no await a cancellation could cut.
    A failure of the server is DatabaseUnavailable (503), as in unit_of_work."""
    async with factory() as session:
        try:
            yield session
        except BaseException as error:
            if (cause := unavailable(error)) is not None and cause is not error:
                raise cause from error
            raise
        # Whatever ran here is committed already (statement by statement): work registered to
        # follow a commit (shared.jobs.after_commit) follows it, as after unit_of_work's COMMIT.
        await _committed(session)


@asynccontextmanager
async def unit_of_work(
    factory: async_sessionmaker[AsyncSession], job_pool: "ArqRedis | None" = None
) -> AsyncIterator[AsyncSession]:
    """One transaction at the edge: commit if the block succeeds, roll back otherwise.

    What the work registered with `on_commit` runs only after the COMMIT, and is dropped on
    rollback: jobs the work asked for (shared.jobs.after_commit) go to `job_pool` then.
    """
    async with factory() as session:
        session.info[JOB_POOL] = job_pool
        try:
            yield session
        except BaseException as error:
            _rolled_back(session)
            await _rollback(session)
            if (cause := unavailable(error)) is not None and cause is not error:
                raise cause from error
            raise
        try:
            with constraint_errors():  # deferred constraints fire at commit
                await session.commit()
        except BaseException as error:
            _rolled_back(session)
            await _rollback(session)
            if (cause := unavailable(error)) is not None:
                # The connection failed during COMMIT: the server may have committed or not.
                raise OutcomeUnknown(cause.message) from error
            raise
        await _committed(session)


async def _rollback(session: AsyncSession) -> None:
    """Roll back; on a connection that is already gone there is nothing to roll back (the
    server ended the transaction), and the original error is the one worth reporting."""
    try:
        await session.rollback()
    except Exception as error:
        if unavailable(error) is None:
            raise


async def flush(session: AsyncSession) -> None:
    """Flush pending changes; a violated constraint surfaces as a typed ConstraintViolation."""
    with constraint_errors():
        await session.flush()
