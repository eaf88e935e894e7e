"""What already happened, as the ops views show it: recently finished and failed jobs, per-function
counts and durations, the last hour's throughput per minute, and the admins' actions (audit)."""

import json
from datetime import UTC, datetime
from typing import cast

from shared.jobs import progress
from shared.ops import keys
from shared.ops.batch import Batch, Decoder, Replies, decoded_hash, int_of, text
from shared.ops.clock import at
from shared.ops.keys import AuditRecord, FinishedEntry, Outcome, RecordField, StatsField
from shared.ops.schemas import AuditEntry, DurationBucket, FinishedJob, FunctionStats, ThroughputPoint

RECENT_LIMIT = 50
AUDIT_LIMIT = 20
THROUGHPUT_MINUTES = 60


def _entries(raw: list[bytes]) -> list[FinishedEntry]:
    return [cast(FinishedEntry, json.loads(item)) for item in raw]


def ask_finished(batch: Batch, limit: int) -> Decoder[tuple[list[FinishedEntry], list[FinishedEntry]]]:
    """The newest entries of the recent list and of the failed list."""
    batch("recent").lrange(keys.RECENT, 0, limit - 1)
    batch("failed").lrange(keys.RECENT_FAILED, 0, limit - 1)

    def decode(replies: Replies) -> tuple[list[FinishedEntry], list[FinishedEntry]]:
        return _entries(replies["recent"]), _entries(replies["failed"])

    return decode


def ask_retried_as(batch: Batch, failed: list[FinishedEntry]) -> Decoder[dict[str, str | None]]:
    """Each failed job's retry, once an admin retried it (its record says which job that is)."""
    job_ids = list(dict.fromkeys(entry["id"] for entry in failed))
    for job_id in job_ids:
        batch("retried_as", job_id).hget(progress.key(job_id), RecordField.retried_as)

    def decode(replies: Replies) -> dict[str, str | None]:
        return {job_id: text(replies["retried_as", job_id]) for job_id in job_ids}

    return decode


def finished_job(entry: FinishedEntry, retried_as: str | None = None) -> FinishedJob:
    return FinishedJob(
        id=entry["id"],
        function=entry.get("function"),
        queue=entry.get("queue"),
        status=entry.get("status", Outcome.complete),
        tries=entry.get("try"),
        enqueued_at=at(entry.get("enqueued_ms")),
        started_at=at(entry.get("started_ms")),
        finished_at=at(entry.get("finished_ms")),
        duration_ms=entry.get("duration_ms"),
        worker=entry.get("worker"),
        error_type=entry.get("error_type"),
        error_message=entry.get("error_message"),
        retried_as=retried_as,
    )


def ask_functions(batch: Batch) -> Decoder[list[str]]:
    """Every function that ever ran, by name."""
    batch("functions").smembers(keys.FUNCTIONS)

    def decode(replies: Replies) -> list[str]:
        return sorted(name.decode() for name in replies["functions"])

    return decode


def ask_stats(batch: Batch, functions: list[str]) -> Decoder[dict[str, dict[str, str]]]:
    for function in functions:
        batch("stats", function).hgetall(keys.stats(function))

    def decode(replies: Replies) -> dict[str, dict[str, str]]:
        return {function: decoded_hash(replies["stats", function]) for function in functions}

    return decode


def function_stats(function: str, raw: dict[str, str]) -> FunctionStats:
    buckets: list[DurationBucket] = []
    cumulative = 0
    for upper in (*keys.DURATION_BUCKETS_MS, None):
        cumulative += int_of(raw.get(keys.bucket_field(upper)))
        buckets.append(DurationBucket(le_ms=upper, count=cumulative))
    count, total = int_of(raw.get(StatsField.duration_count)), int_of(raw.get(StatsField.duration_ms_sum))
    return FunctionStats(
        function=function,
        queue=raw.get(StatsField.queue),
        complete=int_of(raw.get(Outcome.complete)),
        failed=int_of(raw.get(Outcome.failed)),
        retried=int_of(raw.get(Outcome.retried)),
        duration_count=count,
        duration_ms_sum=total,
        mean_ms=total / count if count else None,
        buckets=buckets,
    )


def ask_throughput(batch: Batch, now: int) -> Decoder[list[ThroughputPoint]]:
    """Ended tries per minute over the last THROUGHPUT_MINUTES, oldest first."""
    minute_now = now // 60_000
    minutes = list(range(minute_now - THROUGHPUT_MINUTES + 1, minute_now + 1))
    for minute in minutes:
        batch("throughput", minute).hgetall(keys.throughput(minute))

    def decode(replies: Replies) -> list[ThroughputPoint]:
        points = []
        for minute in minutes:
            raw = decoded_hash(replies["throughput", minute])
            counts = {field: int_of(raw.get(field)) for field in keys.THROUGHPUT_FIELDS}
            points.append(ThroughputPoint(minute=at(minute * 60_000) or datetime.fromtimestamp(0, UTC), **counts))
        return points

    return decode


def ask_audit(batch: Batch) -> Decoder[list[AuditEntry]]:
    batch("audit").lrange(keys.AUDIT, 0, AUDIT_LIMIT - 1)

    def decode(replies: Replies) -> list[AuditEntry]:
        return [audit_entry(cast(AuditRecord, json.loads(item))) for item in replies["audit"]]

    return decode


def audit_entry(entry: AuditRecord) -> AuditEntry:
    # Read with defaults: entries written by an older version may lack a field.
    return AuditEntry(
        at=at(entry.get("at_ms")) or datetime.fromtimestamp(0, UTC),
        user=entry.get("user", "?"),
        user_id=entry.get("user_id"),
        action=entry.get("action", "?"),
        job_id=entry.get("job_id"),
        detail=entry.get("detail") or {},
    )
