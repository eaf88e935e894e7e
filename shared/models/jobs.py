"""The durable record of a job a caller was promised (the bulk jobs' 202).

Accepting a bulk job writes this row in the transaction that answers 202; Redis only carries
the trigger (the record's id). The job's outcome is written in the job's own transaction, so
"complete" and the change it made commit together. GET /api/v1/jobs/{id}, the ops views and
`guildhall queue` read this row; the sweeper re-enqueues a record Redis lost. Finished records
are kept JOB_RECORD_RETENTION_DAYS (shared.jobs.records), whatever arq keeps.
"""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ARRAY, Boolean, Column, DateTime, Float, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
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


class HeroUpdateItems(SQLModel, table=True):
    """The items of an accepted bulk hero update, as typed arrays (one per field; position i of
    each is item i), written with its job record. The worker applies them with one
    `UPDATE hero ... FROM unnest(...)`, which is what PostgreSQL does fastest: kept as JSON, the
    items were parsed twice (storing them, ~140 ms for 100,000, and reading them back, ~130 ms).
    A field an item leaves out is NULL in its array (none of those may be null otherwise), except
    team_id, whose explicit null ("leave the team") is told apart by `team_id_given`. A field no
    item sets has no array at all (NULL): 100,000 NULLs cost as much to send as 100,000 values."""

    __tablename__ = "hero_update_items"

    job_id: str = Field(sa_column=Column(String(64), ForeignKey("job.id", ondelete="CASCADE"), primary_key=True))
    ids: list[int] = Field(sa_column=Column(ARRAY(Integer), nullable=False))
    names: list[str | None] | None = Field(default=None, sa_column=Column(ARRAY(Text), nullable=True))
    secret_identities: list[str | None] | None = Field(default=None, sa_column=Column(ARRAY(Text), nullable=True))
    ages: list[int | None] | None = Field(default=None, sa_column=Column(ARRAY(Integer), nullable=True))
    power_levels: list[float | None] | None = Field(default=None, sa_column=Column(ARRAY(Float), nullable=True))
    team_ids: list[int | None] | None = Field(default=None, sa_column=Column(ARRAY(Integer), nullable=True))
    team_id_given: list[bool] | None = Field(default=None, sa_column=Column(ARRAY(Boolean), nullable=True))
