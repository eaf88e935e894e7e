"""Running a recorded job (a bulk job a caller was promised with a 202): its record's run lock,
status and outcome around the work, in the job's one transaction (shared.jobs.records)."""

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from arq import Retry
from sqlmodel.ext.asyncio.session import AsyncSession

from services.worker.context import Ctx, transaction
from shared.errors import DatabaseUnavailable
from shared.jobs import records
from shared.models.jobs import UNFINISHED, JobState

logger = logging.getLogger(__name__)

Work = Callable[[AsyncSession], Awaitable[dict[str, Any]]]

# Another run of the same record holds its lock: try again after this long (arq's Retry).
BUSY_RETRY_SECONDS = 10


async def run_recorded(ctx: Ctx, record_id: str, work: Work) -> dict[str, Any]:
    """Run `work(session)` for the record (the work reads the record's arguments itself), at
    most once at a time and once to completion; its result is the record's. A failure the job
    itself raised (a refused row, invalid input) fails the record; the database or the worker
    going away leaves it unfinished, for the sweeper to run again."""
    factory = ctx["session_factory"]
    try:
        async with transaction(ctx) as session:
            if not await records.lock(session, record_id):
                raise Retry(defer=BUSY_RETRY_SECONDS)
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
            result = await work(session)
            await records.complete(session, record_id, result)
        return result
    except (Retry, DatabaseUnavailable, records.RecordChanged):
        raise  # unfinished (or no longer ours): the record says so already
    except Exception as error:
        try:
            await records.fail(factory, record_id, type(error).__name__, str(error))
        except DatabaseUnavailable as unrecorded:  # stays in progress: the sweeper runs it again
            logger.warning("job %s failed (%r) and its failure was not recorded: %r", record_id, error, unrecorded)
        raise
