"""Bulk jobs as the API accepts them, run by a test's own worker."""

from typing import Any

from arq import ArqRedis
from arq.jobs import Job
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.heroes.bulk_schemas import BulkHeroUpdateRequest
from shared.heroes.jobs import BULK_UPDATE_HEROES, accept_update
from shared.jobs import records
from shared.jobs.after_commit import discard_pending
from shared.jobs.enqueue import enqueue
from shared.jobs.queues import Queue
from shared.jobs.serialization import deserialize
from shared.jobs.spec import JobSpec
from shared.models.heroes import Hero
from tests.conftest import RunWorker
from tests.shared.factories import make_roster


async def hero_ids(session: AsyncSession, teams: int, per_team: int) -> list[int]:
    rows = await make_roster(session, teams=teams, heroes_per_team=per_team, items_per_hero=1)
    team_ids = [team.id for team in rows]
    ids = (await session.exec(select(Hero.id).where(col(Hero.team_id).in_(team_ids)).order_by(col(Hero.id)))).all()
    await session.commit()
    return list(ids)  # type: ignore[arg-type]


async def accept(session: AsyncSession, pool: ArqRedis, job: JobSpec, **arguments: Any) -> str:
    """What POST /jobs/... does: the durable record (a bulk update's items staged beside it),
    committed, then its trigger (just the id)."""
    if job == BULK_UPDATE_HEROES:
        request = BulkHeroUpdateRequest.model_validate(arguments)  # as the API validates it
        job_id = await accept_update(session, request.items, None)
    else:
        job_id = await records.accept(session, job, arguments, None)
    discard_pending(session)  # the test session has no job pool: its trigger is sent here
    await session.commit()
    assert await enqueue(pool, job, job_id=job_id, record_id=job_id)
    return job_id


async def run_job(
    session: AsyncSession, pool: ArqRedis, run_worker: RunWorker, job: JobSpec, **arguments: Any
) -> tuple[Any, str]:
    job_id = await accept(session, pool, job, **arguments)
    await run_worker(Queue.bulk)
    info = await Job(job_id, pool, _queue_name=Queue.bulk, _deserializer=deserialize).result_info()
    assert info is not None
    return info, job_id
