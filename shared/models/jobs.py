"""The durable record of a job a caller was promised (the bulk jobs' 202).

Accepting a bulk job writes this row in the transaction that answers 202; Redis only carries
the trigger (the record's id). The job's outcome is written in the job's own transaction, so
"complete" and the change it made commit together. GET /api/v1/jobs/{id}, the ops views and
`guildhall queue` read this row; the sweeper re-enqueues a record Redis lost. Finished records
are kept JOB_RECORD_RETENTION_DAYS (shared.jobs.records), whatever arq keeps, then deleted by
retention (shared.jobs.retention).
"""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field, SQLModel

from shared.models.base import created_at_field, one_of


class JobState(StrEnum):
    queued = "queued"
    in_progress = "in_progress"
    complete = "complete"
    failed = "failed"


UNFINISHED = (JobState.queued, JobState.in_progress)


class JobRecord(SQLModel, table=True):
    __tablename__ = "job"
    __table_args__ = (
        one_of("status", JobState, "status_valid"),
        # The sweeper and the ops backlog read only unfinished records, oldest first.
        Index(
            "ix_job_unfinished_created_at", "created_at", postgresql_where=text("status IN ('queued', 'in_progress')")
        ),
        # Deleting a user sets its jobs' submitted_by to NULL: without this index, a scan of every job.
        Index("ix_job_submitted_by", "submitted_by"),
        # Retention deletes finished records by age.
        Index("ix_job_finished_at", "finished_at", postgresql_where=text("finished_at IS NOT NULL")),
    )

    id: str = Field(sa_type=String(64), primary_key=True)  # also the arq job id of its first run
    function: str = Field(sa_type=String(100))
    queue: str = Field(sa_type=String(100))
    # The job's input, validated before it was accepted; it never travels through Redis.
    arguments: dict[str, Any] = Field(sa_type=JSONB)
    submitted_by: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)
    )
    status: str = Field(default=JobState.queued, sa_type=String(20))
    created_at: datetime = created_at_field()
    started_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    finished_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    tries: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})
    result: dict[str, Any] | None = Field(default=None, sa_type=JSONB)
    error: dict[str, Any] | None = Field(default=None, sa_type=JSONB)  # {"type", "message"}


# --- the outbox and idempotency keys ------------------------------------------------------------
# Durable intents written in the same transaction as the change that needs them.
#
# The API never relies on Redis to remember work that must happen: a transfer's audit
# and a new comment's moderation are outbox rows committed with the change itself.
# The worker does the work and marks the row processed in one transaction; a sweeper
# re-enqueues rows left unprocessed (Redis down, enqueue lost, worker killed).

# Sweeps after which an unprocessed row is left as a dead letter (see OutboxMessage.sweeps).
MAX_SWEEPS = 30


class OutboxTopic(StrEnum):
    transfer_audit = "transfer_audit"
    comment_moderation = "comment_moderation"


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox"
    __table_args__ = (
        one_of("topic", OutboxTopic, "topic_valid"),
        # The ops backlog ("what is still waiting, and since when") reads only this index...
        Index("ix_outbox_pending_created_at", "created_at", postgresql_where=text("processed_at IS NULL")),
        # ...and the sweeper this one, which leaves dead letters (the oldest rows) out of its way.
        Index(
            "ix_outbox_sweepable_created_at",
            "created_at",
            postgresql_where=text(f"processed_at IS NULL AND sweeps < {MAX_SWEEPS}"),
        ),
        # Retention deletes processed rows oldest first (shared.jobs.retention), walking this index:
        # each batch reads only the rows it deletes, never the pending ones.
        Index("ix_outbox_processed_at", "processed_at", postgresql_where=text("processed_at IS NOT NULL")),
    )

    id: int | None = Field(default=None, sa_type=BigInteger, primary_key=True)
    topic: str = Field(sa_type=String(40))
    payload: dict[str, Any] = Field(sa_type=JSONB)
    created_at: datetime = created_at_field()
    processed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    # How many times the sweeper re-enqueued the row. A row that keeps failing stops being
    # swept at MAX_SWEEPS (a dead letter, shown by the ops views), so it can neither loop
    # for ever nor crowd out rows that only need one more try.
    sweeps: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})


class IdempotencyRecord(SQLModel, table=True):
    """The first response to a request sent with an Idempotency-Key, per user, for replay."""

    __tablename__ = "idempotency_key"
    # Retention deletes expired keys oldest first (shared.jobs.retention), walking this index.
    __table_args__ = (Index("ix_idempotency_key_created_at", "created_at"),)

    user_id: int = Field(sa_column=Column(Integer, ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True))
    key: str = Field(sa_type=String(200), primary_key=True)
    # What the key was first used for: the same key on another request is refused, not replayed.
    request_fingerprint: str = Field(sa_type=String(64))
    status_code: int
    response_body: dict[str, Any] = Field(sa_type=JSONB)
    created_at: datetime = created_at_field()


# --- job history ----------------------------------------------------------------------------------
# What the workers ran, kept JOB_HISTORY_DAYS (runs) and JOB_METRICS_HOURS (per-minute metrics),
# written in batches by shared.ops.recorder, read by the ops history views (shared.ops.job_runs,
# shared.ops.metric_history). Best effort: a try the worker could not record is missing, never wrong.


class RunStatus(StrEnum):
    complete = "complete"
    failed = "failed"
    retried = "retried"  # the try ended and the job was queued again (arq's Retry, or a lost worker)


class JobRun(SQLModel, table=True):
    """One try of one job, as it ended: one row per attempt (a job's timeline is its rows by id)."""

    __tablename__ = "job_run"
    __table_args__ = (
        one_of("status", RunStatus, "status_valid"),
        # The list, newest first, whole or by one filter, each walked backwards from `until` (and
        # retention's oldest first): each filter's own index gives the order, so no sort.
        Index("ix_job_run_ended_at_id", "ended_at", "id"),
        Index("ix_job_run_function_ended_at_id", "function", "ended_at", "id"),
        Index("ix_job_run_queue_ended_at_id", "queue", "ended_at", "id"),
        Index("ix_job_run_status_ended_at_id", "status", "ended_at", "id"),
        # A job's timeline: its tries in the order they ended.
        Index("ix_job_run_job_id_id", "job_id", "id"),
        # `q`: text in the arguments or the error (trigram GIN, as the post search).
        Index(
            "ix_job_run_args_preview_trgm",
            "args_preview",
            postgresql_using="gin",
            postgresql_ops={"args_preview": "gin_trgm_ops"},
        ),
        Index(
            "ix_job_run_error_message_trgm",
            "error_message",
            postgresql_using="gin",
            postgresql_ops={"error_message": "gin_trgm_ops"},
        ),
    )

    id: int | None = Field(default=None, sa_type=BigInteger, primary_key=True)
    job_id: str = Field(sa_type=String(200))
    function: str = Field(sa_type=String(100))
    queue: str = Field(sa_type=String(100))
    attempt: int  # arq's job_try: 1 for the first run
    status: str = Field(sa_type=String(20))
    enqueued_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    started_at: datetime = Field(sa_type=DateTime(timezone=True))
    ended_at: datetime = Field(sa_type=DateTime(timezone=True))
    duration_ms: int
    wait_ms: int | None = None  # from the time the try was due (its queue score) to its start
    worker: str = Field(sa_type=String(200))
    # A bounded preview of the arguments (admins only: shared.ops.recorder cuts it and hides
    # secret-looking keys); never the result.
    args_preview: str | None = Field(default=None, sa_type=Text)
    error_type: str | None = Field(default=None, sa_type=String(200))
    error_message: str | None = Field(default=None, sa_type=Text)


# Every function's runs in a queue, or every function's but the cron sweepers' (this name).
ALL_FUNCTIONS = "*"
ALL_QUEUES = "*"


class JobMetricMinute(SQLModel, table=True):
    """One minute of one function on one queue (or ALL_FUNCTIONS of a queue, or of ALL_QUEUES):
    tries ended by outcome, and fixed histogram buckets of run and wait time (shared.ops.buckets),
    from which percentiles are read. Flat: its size is minutes x functions, whatever the traffic."""

    __tablename__ = "job_metric_minute"
    # Retention deletes old minutes (the primary key serves the reads).
    __table_args__ = (Index("ix_job_metric_minute_minute", "minute"),)

    function: str = Field(sa_type=String(100), primary_key=True)
    queue: str = Field(sa_type=String(100), primary_key=True)
    minute: datetime = Field(sa_type=DateTime(timezone=True), primary_key=True)
    complete: int = 0
    failed: int = 0
    retried: int = 0
    run_ms_sum: int = Field(default=0, sa_type=BigInteger)
    wait_ms_sum: int = Field(default=0, sa_type=BigInteger)
    run_buckets: list[int] = Field(sa_type=ARRAY(Integer))
    wait_buckets: list[int] = Field(sa_type=ARRAY(Integer))
