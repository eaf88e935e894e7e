"""The ops summary as plain-text tables, for `guildhall queue` in a terminal."""

from collections.abc import Sequence
from datetime import datetime

from shared.ops.schemas import OpsSummary, QueueStats


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 1:
        return f"{value * 1000:.0f}ms"
    if value < 120:
        return f"{value:.1f}s"
    if value < 7200:
        return f"{value / 60:.1f}m"
    return f"{value / 3600:.1f}h"


def clock(value: datetime | None) -> str:
    return value.astimezone().strftime("%H:%M:%S") if value else "-"


def queue_state(queue: QueueStats) -> str:
    if not queue.paused:
        return "running"
    return f"PAUSED since {clock(queue.paused_at)} by {queue.paused_by or '?'}"


def table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]], empty: str = "none") -> str:
    cells = [[str("-" if cell is None else cell) for cell in row] for row in rows]
    widths = [max([len(h), *(len(row[i]) for row in cells)]) for i, h in enumerate(headers)]
    lines = [title, "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    if not cells:
        lines.append(f"({empty})")
    return "\n".join(lines)


def render_summary(summary: OpsSummary) -> str:
    t = summary.totals
    outbox, jobs = summary.outbox, summary.jobs
    head = (
        f"Guildhall queues at {clock(summary.generated_at)}: ready {t.ready}, deferred {t.deferred}, "
        f"running {t.running}, oldest wait {seconds(t.oldest_ready_age_seconds)}; last hour: "
        f"{t.complete_last_hour} complete, {t.failed_last_hour} failed, {t.retried_last_hour} retried, "
        f"{t.sweeps_last_hour} sweeps ({t.sweeps_failed_last_hour} failed); "
        f"workers {t.workers_running} up, {t.workers_down} down, {t.workers_stalled} stalled"
        + (
            f"; outbox {outbox.waiting} waiting (oldest {seconds(outbox.oldest_age_seconds)}, {outbox.dead} dead)"
            if outbox
            else ""
        )
        + (
            f"; bulk jobs accepted and unfinished: {jobs.queued} queued, {jobs.in_progress} running"
            f" (oldest {seconds(jobs.oldest_age_seconds)})"
            if jobs
            else ""
        )
    )
    parts = [
        head,
        table(
            "QUEUES",
            ["queue", "ready", "deferred", "running", "oldest wait", "state"],
            [
                [q.queue, q.ready, q.deferred, q.running, seconds(q.oldest_ready_age_seconds), queue_state(q)]
                for q in summary.queues
            ],
        ),
        table(
            "RUNNING",
            ["job", "function", "queue", "started", "running", "try", "progress", "worker"],
            [
                [
                    j.id,
                    j.function,
                    j.queue,
                    clock(j.started_at),
                    seconds(j.running_seconds),
                    j.tries,
                    f"{j.progress.done}/{j.progress.total}" if j.progress else "-",
                    j.worker,
                ]
                for j in summary.running
            ],
        ),
        table(
            "FAILED",
            ["job", "function", "finished", "error", "message", "retried as"],
            [
                [j.id, j.function, clock(j.finished_at), j.error_type, (j.error_message or "")[:60], j.retried_as]
                for j in summary.failed[:10]
            ],
        ),
        table(
            "FUNCTIONS",
            ["function", "queue", "complete", "failed", "retried", "mean"],
            [
                [f.function, f.queue, f.complete, f.failed, f.retried, seconds(f.mean_ms / 1000 if f.mean_ms else None)]
                for f in summary.functions
            ],
        ),
        table(
            "WORKERS",
            ["worker", "queue", "state", "heartbeat", "done", "failed", "retried", "sweeps", "ongoing"],
            [
                [
                    w.name,
                    w.queue,
                    w.state.value,
                    seconds(w.heartbeat_age_seconds),
                    w.complete,
                    w.failed,
                    w.retried,
                    w.sweeps,
                    w.ongoing,
                ]
                for w in summary.workers
            ],
        ),
    ]
    return "\n\n".join(parts)
