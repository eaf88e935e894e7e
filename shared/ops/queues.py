"""The queues as the ops views show them: depth (ready vs deferred), latency, the first waiting and
deferred jobs, and the jobs running now, with their progress.

A queue is arq's sorted set (job id -> run-at ms) plus Guildhall's running set (job id -> start ms).
Counts are ZCOUNTs and listings bounded slices, so the cost does not grow with the queue.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from shared.jobs import progress
from shared.jobs.status import JobProgress
from shared.ops import keys
from shared.ops.batch import Batch, Decoder, Replies, decoded_hash, int_of
from shared.ops.clock import at
from shared.ops.keys import RecordField
from shared.ops.peek import JobHead
from shared.ops.schemas import JobStatus, QueuedJob, QueueStats, RunningJob

LIST_LIMIT = 20  # waiting / deferred jobs shown per queue
RUNNING_LIMIT = 100  # running jobs read per queue (workers x max_jobs stays far below)


@dataclass
class QueueSlice:
    """What the first round trip reads of one queue."""

    queue: str
    ready_all: int  # due now, running jobs included (they keep their score while they run)
    deferred: int
    running: dict[str, float]  # job id -> start ms
    waiting: list[tuple[str, float]]  # (job id, run-at ms), oldest first, running jobs left out
    later: list[tuple[str, float]]

    @property
    def listed(self) -> list[str]:
        return [job_id for job_id, _ in self.waiting + self.later]


def ask_queue(batch: Batch, queue: str, now: int) -> Decoder[QueueSlice]:
    batch("ready", queue).zcount(queue, "-inf", now)
    batch("deferred", queue).zcount(queue, f"({now}", "+inf")
    batch("running", queue).zrange(keys.running(queue), 0, RUNNING_LIMIT - 1, withscores=True)
    # Running jobs keep their (old) score in the queue: read past them to find the waiting ones.
    batch("due", queue).zrangebyscore(queue, "-inf", now, start=0, num=LIST_LIMIT + RUNNING_LIMIT, withscores=True)
    batch("later", queue).zrangebyscore(queue, f"({now}", "+inf", start=0, num=LIST_LIMIT, withscores=True)

    def decode(replies: Replies) -> QueueSlice:
        running = {job_id.decode(): score for job_id, score in replies["running", queue]}
        due = [(job_id.decode(), score) for job_id, score in replies["due", queue]]
        return QueueSlice(
            queue=queue,
            ready_all=replies["ready", queue],
            deferred=replies["deferred", queue],
            running=running,
            waiting=[(job_id, score) for job_id, score in due if job_id not in running][:LIST_LIMIT],
            later=[(job_id.decode(), score) for job_id, score in replies["later", queue]],
        )

    return decode


@dataclass
class Placement:
    """Where an unfinished job is: the queue whose sorted set holds it, and whether a worker does."""

    queue: str
    run_at_ms: float
    held: bool

    def status(self, now: int) -> JobStatus:
        return JobStatus.in_progress if self.held else JobStatus.deferred if self.run_at_ms > now else JobStatus.queued


def ask_placement(batch: Batch, job_id: str, queues: tuple[str, ...]) -> Decoder[Placement | None]:
    """The job's queue (the first of `queues` that holds it), or None if none does."""
    batch("held", job_id).exists(keys.in_progress(job_id))
    for queue in queues:
        batch("score", queue).zscore(queue, job_id)

    def decode(replies: Replies) -> Placement | None:
        return next(
            (
                Placement(queue, score, bool(replies["held", job_id]))
                for queue in queues
                if (score := replies["score", queue]) is not None
            ),
            None,
        )

    return decode


def ask_running_records(batch: Batch, job_ids: list[str]) -> Decoder[dict[str, dict[str, str] | None]]:
    """Each running job's record, or None once its worker no longer holds it (it died mid-job)."""
    job_ids = list(dict.fromkeys(job_ids))
    for job_id in job_ids:
        batch("held", job_id).exists(keys.in_progress(job_id))
        batch("record", job_id).hgetall(progress.key(job_id))

    def decode(replies: Replies) -> dict[str, dict[str, str] | None]:
        return {
            job_id: decoded_hash(replies["record", job_id]) if replies["held", job_id] else None for job_id in job_ids
        }

    return decode


def progress_of(record: dict[str, str]) -> JobProgress | None:
    done, total = record.get("done"), record.get("total")
    return JobProgress(done=int_of(done), total=int_of(total)) if done is not None and total is not None else None


def queued_job(job_id: str, score: float, queue: str, heads: dict[str, JobHead]) -> QueuedJob:
    head = heads.get(job_id) or JobHead()
    return QueuedJob(
        id=job_id,
        function=head.function,
        queue=queue,
        run_at=at(score) or datetime.fromtimestamp(0, UTC),
        enqueued_at=at(head.enqueued_ms),
        tries=head.tries,
    )


def running_job(
    job_id: str, started: float, queue: str, heads: dict[str, JobHead], record: dict[str, str], now: int
) -> RunningJob:
    head = heads.get(job_id) or JobHead()
    return RunningJob(
        id=job_id,
        function=head.function or keys.cron_function(job_id),
        queue=queue,
        started_at=at(started) or datetime.now(UTC),
        running_seconds=max(0.0, (now - started) / 1000),
        tries=int_of(record[RecordField.try_]) if RecordField.try_ in record else head.tries,
        worker=record.get(RecordField.worker),
        progress=progress_of(record),
    )


def queue_view(
    data: QueueSlice, heads: dict[str, JobHead], records: dict[str, dict[str, str] | None], now: int
) -> tuple[QueueStats, list[RunningJob]]:
    """One queue's stats and running jobs; a running entry whose worker died is not counted."""
    alive = {
        job_id: (started, record) for job_id, started in data.running.items() if (record := records[job_id]) is not None
    }
    running = [
        running_job(job_id, started, data.queue, heads, record, now) for job_id, (started, record) in alive.items()
    ]
    oldest = data.waiting[0][1] if data.waiting else None
    stats = QueueStats(
        queue=data.queue,
        ready=max(0, data.ready_all - len(alive)),
        deferred=data.deferred,
        running=len(alive),
        oldest_ready_age_seconds=max(0.0, (now - oldest) / 1000) if oldest is not None else None,
        waiting=[queued_job(job_id, score, data.queue, heads) for job_id, score in data.waiting],
        next_deferred=[queued_job(job_id, score, data.queue, heads) for job_id, score in data.later],
    )
    return stats, running
