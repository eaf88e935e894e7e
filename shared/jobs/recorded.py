"""Running a recorded job (a bulk job a caller was promised with a 202): its record's run lock,
status and outcome around the work, in the job's one transaction (shared.jobs.records)."""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from arq import Retry
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.errors import DatabaseUnavailable, lost_a_race
from shared.jobs import progress, records
from shared.jobs.context import Ctx, settings_of, transaction
from shared.models.jobs import UNFINISHED, JobState

logger = logging.getLogger(__name__)

Work = Callable[[AsyncSession], Awaitable[dict[str, Any]]]

# A run that lost a race (deadlock, serialization failure) is tried again after this long.
RACE_RETRY_SECONDS = 2
# The work stops this long before arq's own job timeout would cancel it, so the record says why.
TIMEOUT_MARGIN_SECONDS = 10


class JobTimedOut(Exception):
    """The job's work ran past its limit; it would again: the record fails, saying so."""


async def run_recorded(ctx: Ctx, record_id: str, work: Work) -> dict[str, Any]:
    """Run `work(session)` for the record (the work reads the record's arguments itself), at
    most once at a time and once to completion; its result is the record's.

    How each way of ending leaves the record:
    - done: complete, with the result, in the work's own transaction;
    - the work refused its input, or ran past its time limit (it would again): failed, saying why;
    - a deadlock or serialization failure: unfinished, tried again shortly (arq's Retry);
    - PostgreSQL unavailable, or the worker killed: unfinished, run again by the sweeper (at most
      records.MAX_RUNS starts);
    - another run holds the record's lock: skipped (that run finishes it, or the sweeper re-sends
      it if that run's worker dies, which releases the lock)."""
    factory = ctx["session_factory"]
    limit = max(1, settings_of(ctx).bulk_job_timeout_seconds - TIMEOUT_MARGIN_SECONDS)
    try:
        async with transaction(ctx) as session:
            if not await records.lock(session, record_id):
                return {"skipped": "running elsewhere"}
            loaded = await records.load(session, record_id)
            if loaded is None or loaded[0] not in UNFINISHED:
                # Finished already (a duplicate trigger, a late sweep) or never recorded: nothing to do.
                return {"skipped": "no such job" if loaded is None else f"already {loaded[0]}"}
            status, tries = loaded
            if status == JobState.in_progress and tries >= records.MAX_RUNS:
                await records.fail(
                    factory, record_id, "GaveUp", f"started {tries} times without finishing (its worker died each time)"
                )
                return {"skipped": "gave up"}
            await records.mark_started(factory, record_id)
            try:
                async with asyncio.timeout(limit):
                    result = await work(session)
            except TimeoutError:
                raise JobTimedOut(f"ran longer than its limit of {limit} s; nothing was changed") from None
            await records.complete(session, record_id, result)
        return result
    except (Retry, records.RecordChanged):
        raise  # unfinished, or no longer this run's: the record says so already
    except DatabaseUnavailable as error:
        if error.sqlstate == "57014":  # the work's own statement ran past its timeout: it would again
            await _fail(factory, record_id, JobTimedOut(str(error)))
        raise  # otherwise unfinished: the sweeper runs it again once PostgreSQL is back
    except Exception as error:
        if lost_a_race(error):
            raise Retry(defer=RACE_RETRY_SECONDS) from error
        await _fail(factory, record_id, error)
        raise


async def _fail(factory: Any, record_id: str, error: Exception) -> None:
    try:
        await records.fail(factory, record_id, type(error).__name__, str(error))
    except DatabaseUnavailable as unrecorded:  # stays in progress: the sweeper runs it again
        logger.warning("job %s failed (%r) and its failure was not recorded: %r", record_id, error, unrecorded)


Progress = Callable[[int, int], Awaitable[None]]


def progress_of(ctx: Ctx, record_id: str) -> Progress:
    """How a recorded job's work reports `done` of `total` (best effort, to Redis: shared.jobs.progress)."""

    async def report(done: int, total: int) -> None:
        await progress.report(ctx["redis"], record_id, done, total)

    return report
