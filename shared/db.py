"""The async engine and session factory shared by the API and the worker.

The edge (a request, a job) owns a session and decides commit or rollback; code
below it receives the session and only flushes.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.errors import constraint_errors
from shared.jobs.after_commit import attach_job_pool, discard_pending, send_pending
from shared.settings import Settings, get_settings

if TYPE_CHECKING:
    from arq import ArqRedis


def create_engine(settings: Settings | None = None, **overrides: object) -> AsyncEngine:
    settings = settings or get_settings()
    options: dict[str, object] = {
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_max_overflow,
        # No pre-ping: SQLAlchemy's asyncpg ping is BEGIN, a statement and ROLLBACK, three round
        # trips on every checkout. A connection that died with its server fails its first statement
        # instead, and SQLAlchemy then invalidates the pool's older connections.
        "pool_pre_ping": False,
        "echo": settings.db_echo,
    }
    options.update(overrides)
    return create_async_engine(settings.database_url, **options)


def create_session_factory(bind: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: objects stay readable after commit; under asyncio an
    # expired attribute would need an implicit (forbidden) lazy load to refresh.
    return async_sessionmaker(bind, class_=AsyncSession, expire_on_commit=False, autoflush=False)


@asynccontextmanager
async def unit_of_work(
    factory: async_sessionmaker[AsyncSession], job_pool: "ArqRedis | None" = None
) -> AsyncIterator[AsyncSession]:
    """One transaction at the edge: commit if the block succeeds, roll back otherwise.

    Jobs the work asked for (shared.jobs.after_commit) go to `job_pool` only after the
    COMMIT, and are dropped on rollback.
    """
    async with factory() as session:
        attach_job_pool(session, job_pool)
        try:
            yield session
            with constraint_errors():  # deferred constraints fire at commit
                await session.commit()
        except BaseException:
            discard_pending(session)
            await session.rollback()
            raise
        await send_pending(session)


async def flush(session: AsyncSession) -> None:
    """Flush pending changes; a violated constraint surfaces as a typed ConstraintViolation."""
    with constraint_errors():
        await session.flush()
