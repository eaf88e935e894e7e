"""Jobs requested inside a transaction are enqueued only after it commits.

A job enqueued mid-transaction could run before the commit (and not see the rows) or for a
transaction that then rolls back. So domain code asks `enqueue_after_commit` (by the job's spec),
which parks the request on the session and registers its sending with the unit of work
(shared.db.on_commit): the jobs go to the session's job pool after COMMIT, and are dropped on
rollback. A failed enqueue is logged, not raised: the work it stands for is already durable (an
outbox row, a job record), and a sweeper enqueues it again.
"""

import logging
from dataclasses import dataclass, field
from typing import Any

from arq import ArqRedis
from arq.utils import timestamp_ms
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import JOB_POOL, on_commit
from shared.jobs import registry
from shared.jobs.enqueue import enqueue_unique
from shared.jobs.spec import JobSpec

logger = logging.getLogger(__name__)

_PENDING = "guildhall.jobs_after_commit"


@dataclass(frozen=True)
class JobRequest:
    spec: JobSpec
    job_id: str | None
    kwargs: dict[str, Any] = field(default_factory=dict)
    # Coalesce: one job per window of this many ms (id `<function>:<window end>`, run at the window's
    # end), whatever number of transactions ask for it within the window.
    window_ms: int | None = None
    # False: a result kept from an earlier run of the same id does not block this one (a durable
    # job record queued again: the record, not arq's result, says whether it must run).
    blocked_by_result: bool = True


def enqueue_after_commit(
    session: AsyncSession,
    spec: JobSpec,
    *,
    job_id: str | None = None,
    window_ms: int | None = None,
    blocked_by_result: bool = True,
    **kwargs: Any,
) -> None:
    # A job no jobs.py declares (LookupError), or not as declared, would never be run by a worker.
    if registry.job(spec.name) != spec:
        raise ValueError(f"job {spec.name!r} is not the one its jobs.py declares")
    pending: list[JobRequest] = session.info.setdefault(_PENDING, [])
    request = JobRequest(spec, job_id, kwargs, window_ms, blocked_by_result)
    if window_ms is None or request not in pending:
        pending.append(request)
    on_commit(session, send_pending, or_else=discard_pending)


def discard_pending(session: AsyncSession) -> None:
    session.info.pop(_PENDING, None)


async def send_pending(session: AsyncSession) -> None:
    """After COMMIT: enqueue what the transaction asked for; log (never raise) failures."""
    requests: list[JobRequest] = session.info.pop(_PENDING, [])
    pool: ArqRedis | None = session.info.get(JOB_POOL)
    if not requests:
        return
    if pool is None:
        logger.warning("no job pool on this session: %d job(s) left to the outbox sweeper", len(requests))
        return
    for request in requests:
        function, queue = request.spec.name, request.spec.queue
        try:
            if request.window_ms is not None:
                # The window is chosen now, after COMMIT: its job runs once the window has ended,
                # so it sees this transaction's rows (and every other one's of the same window).
                window_end = (timestamp_ms() // request.window_ms + 1) * request.window_ms
                job_id = f"{function}:{window_end}"
                await enqueue_unique(pool, function, job_id=job_id, queue=queue, run_at_ms=window_end)
            elif request.job_id is None:
                await pool.enqueue_job(function, _queue_name=queue, **request.kwargs)
            else:  # one round trip instead of arq's three (see shared.jobs.enqueue)
                await enqueue_unique(
                    pool,
                    function,
                    job_id=request.job_id,
                    queue=queue,
                    blocked_by_result=request.blocked_by_result,
                    **request.kwargs,
                )
        except (RedisError, OSError) as error:
            logger.warning("enqueue of %s (%s) failed after commit: %r", function, request.job_id, error)
