"""An arq Worker that outlives every Redis fault, not only a lost connection.

arq's poll loop lets any Redis error end the process: an out-of-memory refusal (noeviction),
a read-only replica, a server still loading its data, a script running past its time (BUSY), a
timeout. The connection-level retry of shared.jobs.queues.redis_settings covers lost connections
only; the others are answers, not silences, and arq re-raises them (also from a job's task, when
storing its result fails). Here a failed poll iteration is logged, waits with backoff, and the
loop carries on: jobs in Redis stay where they were, and a job whose result could not be stored
is run again once its in-progress key expires (every job is idempotent).

Crashed jobs come back within a lease, not a job timeout: arq keeps a started job "in progress"
(an expiring key) for its longest job timeout + 10 s, so a job whose worker died waited that long
(610 s on the bulk queue) before another worker took it. Here the key lives `lease_seconds` and the
running worker renews it every third of that for each job it runs: a live worker's job is never
started twice, and a dead worker's is retried within a lease.

Progress is visible: while its polls keep failing, the worker's health entry says since when
(`faulting_since_ms`), and the ops views show it as `stalled` after one heartbeat interval.
"""

import asyncio
import contextlib
import logging
import time
from typing import Any

from arq.constants import in_progress_key_prefix
from redis.exceptions import RedisError

from services.worker.logs import quiet_routine_lines
from services.worker.pausable import PausableWorker
from services.worker.telemetry import TELEMETRY

logger = logging.getLogger(__name__)

BACKOFF_START_SECONDS = 0.1
BACKOFF_CAP_SECONDS = 5.0


# Pausable (services.worker.pausable) under the fault handling: a failed pause check is a Redis
# fault of the poll like any other.
class ResilientWorker(PausableWorker):
    redis_faults = 0
    _backoff = 0.0

    def __init__(self, *args: Any, lease_seconds: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Its cron runs and health line at DEBUG, refusals in one line (services.worker.logs).
        quiet_routine_lines(job.name for job in self.cron_jobs)
        if lease_seconds is not None:
            self.in_progress_timeout_s = lease_seconds
        self.lease_seconds = self.in_progress_timeout_s

    async def main(self) -> None:
        renewing = asyncio.create_task(self._renew_leases(), name="job leases")
        try:
            await super().main()
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing

    async def _renew_leases(self) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            running = [job_id for job_id, task in self.tasks.items() if not task.done()]
            if not running or self._pool is None:
                continue
            try:
                async with self.pool.pipeline(transaction=False) as pipe:
                    for job_id in running:
                        pipe.pexpire(in_progress_key_prefix + job_id, int(self.lease_seconds * 1000))
                    await pipe.execute()
            except (RedisError, OSError) as error:  # the next renewal may get through; jobs are idempotent
                logger.warning("could not renew the leases of %d running job(s): %r", len(running), error)

    async def _poll_iteration(self) -> None:
        try:
            await super()._poll_iteration()
        except (RedisError, OSError) as error:
            self.redis_faults += 1
            if (health := self.ctx.get(TELEMETRY)) is not None and not health.faulting_since_ms:
                health.faulting_since_ms = int(time.time() * 1000)
            self._backoff = min(BACKOFF_CAP_SECONDS, max(BACKOFF_START_SECONDS, self._backoff * 2))
            logger.warning(
                "redis fault #%d in the poll loop (%s: %s); retrying in %.1f s",
                self.redis_faults,
                type(error).__name__,
                error,
                self._backoff,
            )
            await asyncio.sleep(self._backoff)
        else:
            self._backoff = 0.0
            if (health := self.ctx.get(TELEMETRY)) is not None:
                health.faulting_since_ms = 0

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        try:
            await super().start_jobs(job_ids)
        except (RedisError, OSError):
            # arq counted the job it was claiming (job_counter, the semaphore) before the Redis call
            # that failed, and never started it: give that one slot back, or the worker would run
            # one job fewer after every such fault until it ran none.
            self.job_counter -= 1
            self.sem.release()
            raise
