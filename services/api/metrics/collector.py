"""The queues, the outbox and the job records as Prometheus metrics: one snapshot (the ops summary,
read from Redis, and the outbox and job-record backlogs, from PostgreSQL) per scrape, rendered by a
custom collector."""

import logging
from collections.abc import Iterator

from fastapi import FastAPI
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from shared.ops.inspect import read_summary
from shared.ops.queries import add_database_views
from shared.ops.schemas import JobBacklog, OpsSummary, WorkerState

logger = logging.getLogger(__name__)


class QueueCollector(Collector):
    """Metrics of one snapshot (read asynchronously just before the scrape is rendered)."""

    def __init__(self, summary: OpsSummary | None) -> None:
        self.summary = summary

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("guildhall_ops_redis_up", "1 if the queues could be read from Redis at this scrape.")
        up.add_metric([], 1 if self.summary is not None else 0)
        yield up
        if self.summary is None:
            return
        yield from self._queues(self.summary)
        yield from self._functions(self.summary)
        yield from self._workers(self.summary)
        if self.summary.outbox is not None:
            waiting = GaugeMetricFamily("guildhall_outbox_waiting_messages", "Outbox rows not yet processed.")
            waiting.add_metric([], self.summary.outbox.waiting)
            oldest = GaugeMetricFamily("guildhall_outbox_oldest_age_seconds", "Age of the oldest waiting outbox row.")
            oldest.add_metric([], self.summary.outbox.oldest_age_seconds or 0.0)
            dead = GaugeMetricFamily("guildhall_outbox_dead_messages", "Outbox rows the sweeper gave up on.")
            dead.add_metric([], self.summary.outbox.dead)
            yield from (waiting, oldest, dead)
        if self.summary.jobs is not None:
            yield from self._job_records(self.summary.jobs)

    def _queues(self, summary: OpsSummary) -> Iterator[Metric]:
        depth = GaugeMetricFamily("guildhall_queue_jobs", "Jobs in a queue, by state.", labels=["queue", "state"])
        latency = GaugeMetricFamily(
            "guildhall_queue_latency_seconds", "How long the oldest ready job has waited (0: none).", labels=["queue"]
        )
        paused = GaugeMetricFamily(
            "guildhall_queue_paused",
            "1 while an admin has the queue paused (its workers claim no job).",
            labels=["queue"],
        )
        paused_for = GaugeMetricFamily(
            "guildhall_queue_paused_seconds", "How long the queue has been paused (0: it runs).", labels=["queue"]
        )
        for queue in summary.queues:
            depth.add_metric([queue.queue, "ready"], queue.ready)
            depth.add_metric([queue.queue, "deferred"], queue.deferred)
            depth.add_metric([queue.queue, "in_progress"], queue.running)
            latency.add_metric([queue.queue], queue.oldest_ready_age_seconds or 0.0)
            paused.add_metric([queue.queue], 1 if queue.paused else 0)
            since = queue.paused_at
            paused_for.add_metric(
                [queue.queue], max(0.0, (summary.generated_at - since).total_seconds()) if since else 0.0
            )
        yield from (depth, latency, paused, paused_for)

    def _functions(self, summary: OpsSummary) -> Iterator[Metric]:
        total = CounterMetricFamily(
            "guildhall_jobs", "Ended job tries, by function and outcome.", labels=["function", "queue", "outcome"]
        )
        duration = HistogramMetricFamily(
            "guildhall_job_duration_seconds", "Run time of finished jobs (complete or failed).", labels=["function"]
        )
        for stats in summary.functions:
            queue = stats.queue or ""
            total.add_metric([stats.function, queue, "complete"], stats.complete)
            total.add_metric([stats.function, queue, "failed"], stats.failed)
            total.add_metric([stats.function, queue, "retried"], stats.retried)
            buckets = [("+Inf" if b.le_ms is None else str(b.le_ms / 1000), b.count) for b in stats.buckets]
            duration.add_metric([stats.function], buckets, sum_value=stats.duration_ms_sum / 1000)
        yield from (total, duration)

    def _workers(self, summary: OpsSummary) -> Iterator[Metric]:
        states = GaugeMetricFamily("guildhall_workers", "Worker processes, by state.", labels=["state"])
        for state in WorkerState:
            states.add_metric([state.value], sum(w.state == state for w in summary.workers))
        age = GaugeMetricFamily(
            "guildhall_worker_heartbeat_age_seconds",
            "Seconds since a worker's last heartbeat.",
            labels=["worker", "queue"],
        )
        for worker in summary.workers:
            if worker.heartbeat_age_seconds is not None:
                age.add_metric([worker.name, worker.queue or ""], worker.heartbeat_age_seconds)
        yield from (states, age)

    def _job_records(self, jobs: JobBacklog) -> Iterator[Metric]:
        records = GaugeMetricFamily(
            "guildhall_job_records", "Accepted (recorded) jobs not yet finished, by state.", labels=["state"]
        )
        records.add_metric(["queued"], jobs.queued)
        records.add_metric(["in_progress"], jobs.in_progress)
        oldest = GaugeMetricFamily(
            "guildhall_job_records_oldest_age_seconds",
            "Since the oldest unfinished job record was accepted (0: none).",
        )
        oldest.add_metric([], jobs.oldest_age_seconds or 0.0)
        yield from (records, oldest)


async def snapshot(app: FastAPI) -> OpsSummary | None:
    try:
        summary = await read_summary(app.state.job_pool)
    except Exception:
        logger.warning("metrics: could not read the queues from Redis", exc_info=True)
        return None
    try:
        async with app.state.session_factory() as session:
            # Two statements, each on a partial index, so their cost follows the backlogs, not the tables.
            await add_database_views(summary, session)
    except Exception:
        logger.warning("metrics: could not read the outbox and job-record backlogs", exc_info=True)
    return summary
