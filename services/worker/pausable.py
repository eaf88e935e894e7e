"""A worker that honours a queue's pause (shared.ops.pause): while its queue is paused it claims
no job and runs no cron, and stays alive and healthy (arq's health line, its heartbeat, aborts of
the jobs it runs); the jobs it already runs finish.

Checked once per poll, before the claim, with one EXISTS: a pause takes effect at the next poll
(poll_delay: 50 ms here), a resume likewise, and a worker started on a paused queue reads it at
its first poll, so a pause survives restarts.

Cron runs are skipped while paused, not queued: arq's cron enqueues each due run into the queue
itself, so a paused queue would pile up one run per slot (every 5 s a sweep) and run them all at
the resume. And the sweepers must not run on a paused short queue: sweep_outbox re-enqueues
unprocessed outbox rows and counts each such sweep (outbox.sweeps); rows that no worker may take
would become dead letters after 30 sweeps although nothing failed. Each due slot is passed by
(arq's own schedule, CronJob.calculate_next), so after the resume the next slot runs, once.

A burst worker (in-process runs, tests) on a paused queue ends once its running jobs have: it could
never empty the queue, which is when arq ends a burst.
"""

import logging
from datetime import datetime, timedelta

from arq.worker import Worker

from shared.ops.pause import is_paused

logger = logging.getLogger(__name__)


class PausableWorker(Worker):
    paused = False
    paused_polls = 0  # polls that found the queue paused (tests wait on it)

    async def _poll_iteration(self) -> None:
        paused = await is_paused(self.pool, self.queue_name)
        if paused != self.paused:
            self.paused = paused
            if paused:
                logger.info("queue %s is paused: claiming no job, running no cron until it is resumed", self.queue_name)
            else:
                logger.info("queue %s is resumed: claiming jobs again", self.queue_name)
        if paused:
            self.paused_polls += 1
            if self.burst:  # arq ends a burst once this many jobs have started: the ones it has
                self.max_burst_jobs = self._jobs_started()
        await super()._poll_iteration()

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        if self.paused:
            return
        await super().start_jobs(job_ids)

    async def run_cron(self, n: datetime, delay: float, num_windows: int = 2) -> None:
        if not self.paused:
            await super().run_cron(n, delay, num_windows)
            return
        # The slots arq would enqueue now (its own cut-off), passed by on its own schedule.
        cutoff = n + timedelta(seconds=delay * num_windows)
        for cron_job in self.cron_jobs:
            if cron_job.next_run is None:
                cron_job.calculate_next(n)
            while cron_job.next_run is not None and cron_job.next_run < cutoff:
                cron_job.calculate_next(cron_job.next_run)
