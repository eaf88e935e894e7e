"""What a job finds in arq's ctx, for the job functions in the domains' jobs.py: its settings and
its one transaction. The worker (services/worker/context.py) opens the engine and session factory
at start-up and puts them there."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import unit_of_work
from shared.settings import Settings

# arq's per-job context: a dict it fills (job_id, job_try, redis, ...) beside what start-up put in.
Ctx = dict[str, Any]


def settings_of(ctx: Ctx) -> Settings:
    settings: Settings = ctx["settings"]
    return settings


@asynccontextmanager
async def transaction(ctx: Ctx) -> AsyncIterator[AsyncSession]:
    """The job's ONE transaction: everything it does commits together, or nothing does."""
    async with unit_of_work(ctx["session_factory"], ctx["redis"]) as session:
        yield session
