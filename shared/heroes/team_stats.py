"""Folding the team statistics' deltas into team_stats (shared.models.heroes.TeamStats): the
cron fold_team_stats, every few seconds on the short queue.

Reads are exact whether or not a fold ran (they add the deltas still waiting), so the fold is
about cost, not correctness: it keeps the deltas a read adds up few. Each batch is one
transaction of its own under the fold's advisory lock (team_stats_fold, migration 0009), taking
the oldest deltas; a pass stops after MAX_BATCHES, so one pass stays short behind a burst.
"""

import logging

from sqlalchemy import bindparam, text
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.jobs.context import Ctx, transaction

logger = logging.getLogger(__name__)

FOLD_EVERY_SECONDS = 5
FOLD_TIMEOUT_SECONDS = 20
FOLD_BATCH = 5_000
MAX_BATCHES = 20

_FOLD = text("SELECT team_stats_fold(:batch)").bindparams(bindparam("batch"))


async def fold(session: AsyncSession, *, batch: int = FOLD_BATCH) -> int:
    """Fold up to `batch` of the oldest deltas into team_stats, in one statement; how many."""
    return int((await session.exec(_FOLD, params={"batch": batch})).one()[0])  # type: ignore[call-overload]  # SQLModel types exec() for its select(), not text()


async def fold_team_stats(ctx: Ctx) -> dict[str, int]:
    """Cron: fold the waiting deltas, a batch per transaction, until none is left or MAX_BATCHES."""
    folded = 0
    for _ in range(MAX_BATCHES):
        async with transaction(ctx) as session:
            done = await fold(session)
        folded += done
        if done < FOLD_BATCH:
            break
    if folded:
        logger.debug("team stats: folded %d delta(s)", folded)
    return {"folded": folded}
