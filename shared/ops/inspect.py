"""Reading the queues for the ops views: a bounded number of Redis commands, whatever the queue size.

The summary is two pipelined round trips: the first counts (ZCOUNT) and takes bounded slices
(ZRANGEBYSCORE ... LIMIT, LRANGE 0 n) of every structure; the second reads only the few keys those
slices named. No KEYS, no SCAN, nothing proportional to the number of queued jobs, and only read
commands: looking never changes queue state.

Each section (shared.ops.queues, .workers, .history) queues its own commands on the trip's Batch
and reads its own replies back by name. A job definition may be megabytes (a bulk job's 100,000
items), so listings read only its first and last bytes (shared.ops.peek).

The ops views' reads, in one import: the summary here, one job (shared.ops.detail), and a local
worker's health check (shared.ops.workers).
"""

from datetime import UTC, datetime

from redis.asyncio import Redis

from shared.ops import history, keys, pause
from shared.ops.batch import Batch
from shared.ops.clock import at, now_ms
from shared.ops.detail import read_job_detail
from shared.ops.peek import ask_heads
from shared.ops.queues import ask_queue, ask_running_records, queue_view
from shared.ops.schemas import OpsSummary, QueueStats, RunningJob, ThroughputPoint, Totals, WorkerHealth, WorkerState
from shared.ops.workers import ask_health, ask_registry, listed_workers, local_worker_is_up

__all__ = ["local_worker_is_up", "read_job_detail", "read_summary"]


async def read_summary(
    redis: Redis,
    *,
    queues: tuple[str, ...] = keys.QUEUES,
    now: int | None = None,
    recent_limit: int = history.RECENT_LIMIT,
) -> OpsSummary:
    now = now or now_ms()

    first = Batch(redis)
    read_slices = [ask_queue(first, queue, now) for queue in queues]
    read_finished = history.ask_finished(first, recent_limit)
    read_functions = history.ask_functions(first)
    read_registry = ask_registry(first)
    read_throughput = history.ask_throughput(first, now)
    read_audit = history.ask_audit(first)
    read_pauses = pause.ask_pauses(first, queues)
    replies = await first.execute()
    slices = [read(replies) for read in read_slices]
    recent, failed = read_finished(replies)
    functions, registry = read_functions(replies), read_registry(replies)
    throughput, audit = read_throughput(replies), read_audit(replies)
    pauses = read_pauses(replies)

    # Only the keys the first round named: job heads and tails, running records, stats, workers.
    second = Batch(redis)
    running_ids = [job_id for data in slices for job_id in data.running]
    read_heads = ask_heads(second, [job_id for data in slices for job_id in data.listed] + running_ids)
    read_records = ask_running_records(second, running_ids)
    read_stats = history.ask_stats(second, functions)
    read_health = ask_health(second, registry)
    read_retried_as = history.ask_retried_as(second, failed)
    replies = await second.execute()
    heads, records, stats = read_heads(replies), read_records(replies), read_stats(replies)
    retried_as = read_retried_as(replies)
    listed = listed_workers(registry, read_health(replies), now)

    queue_stats: list[QueueStats] = []
    running: list[RunningJob] = []
    for data in slices:
        stats_of_queue, running_in_queue = queue_view(data, heads, records, now)
        queue_stats.append(pause.shown(stats_of_queue, pauses))
        running += running_in_queue
    return OpsSummary(
        generated_at=at(now) or datetime.now(UTC),
        totals=totals(queue_stats, throughput, listed),
        queues=queue_stats,
        running=running,
        recent=[history.finished_job(entry) for entry in recent],
        failed=[history.finished_job(entry, retried_as.get(entry["id"])) for entry in failed],
        functions=[history.function_stats(name, stats[name]) for name in functions],
        workers=listed,
        throughput=throughput,
        audit=audit,
    )


def totals(queue_stats: list[QueueStats], throughput: list[ThroughputPoint], listed: list[WorkerHealth]) -> Totals:
    ages = [q.oldest_ready_age_seconds for q in queue_stats if q.oldest_ready_age_seconds is not None]
    return Totals(
        ready=sum(q.ready for q in queue_stats),
        deferred=sum(q.deferred for q in queue_stats),
        running=sum(q.running for q in queue_stats),
        oldest_ready_age_seconds=max(ages) if ages else None,
        complete_last_hour=sum(p.complete for p in throughput),
        failed_last_hour=sum(p.failed for p in throughput),
        retried_last_hour=sum(p.retried for p in throughput),
        sweeps_last_hour=sum(p.sweeps for p in throughput),
        sweeps_failed_last_hour=sum(p.sweeps_failed for p in throughput),
        workers_running=sum(w.state == WorkerState.running for w in listed),
        workers_down=sum(w.state == WorkerState.down for w in listed),
        workers_stalled=sum(w.state == WorkerState.stalled for w in listed),
    )
