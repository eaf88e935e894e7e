"""The ops views' one clock, in epoch milliseconds: what the worker writes and what the readers
compare it with come from the same function."""

from datetime import UTC, datetime

from arq.utils import timestamp_ms


def now_ms() -> int:
    # arq's own clock (it rounds): a job enqueued this millisecond is due, not deferred, and the
    # times written beside arq's (start, end, heartbeat) compare with its scores and timestamps.
    return timestamp_ms()


def at(ms: float | None) -> datetime | None:
    """An epoch-ms field as a time; None (or 0: a field never written) as None."""
    return datetime.fromtimestamp(ms / 1000, UTC) if ms else None
