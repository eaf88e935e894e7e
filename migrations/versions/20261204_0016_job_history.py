"""job history: job_run (one row per try) and job_metric_minute (per-minute metrics)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 18:50:00

Issue 22, parts 1 and 5: every try a worker ran, kept JOB_HISTORY_DAYS, and per function and queue
per minute the tries ended by outcome with histogram buckets of run and wait time, kept
JOB_METRICS_HOURS. Both are written in batches by the workers (shared.ops.recorder) and pruned by
prune_retained. The tables are new (empty), so their indexes cost nothing to build; they are
built as 0014 and 0015 build theirs anyway (CONCURRENTLY, after dropping an invalid leftover),
so a re-run after an interrupted upgrade finds nothing in its way.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_job_run_ended_at_id", "job_run", ("ended_at", "id")),
    ("ix_job_run_function_ended_at_id", "job_run", ("function", "ended_at", "id")),
    ("ix_job_run_queue_ended_at_id", "job_run", ("queue", "ended_at", "id")),
    ("ix_job_run_status_ended_at_id", "job_run", ("status", "ended_at", "id")),
    ("ix_job_run_job_id_id", "job_run", ("job_id", "id")),
    ("ix_job_metric_minute_minute", "job_metric_minute", ("minute",)),
)
TRIGRAM_INDEXES = (
    ("ix_job_run_args_preview_trgm", "job_run", "args_preview"),
    ("ix_job_run_error_message_trgm", "job_run", "error_message"),
)


def _drop_invalid_index(name: str) -> None:
    op.execute(
        f"""DO $$ BEGIN
        IF EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                   WHERE c.relname = '{name}' AND NOT i.indisvalid) THEN
            EXECUTE 'DROP INDEX {name}';
        END IF; END $$"""
    )


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "job_run",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("job_id", sa.String(length=200), nullable=False),
        sa.Column("function", sa.String(length=100), nullable=False),
        sa.Column("queue", sa.String(length=100), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("wait_ms", sa.Integer(), nullable=True),
        sa.Column("worker", sa.String(length=200), nullable=False),
        sa.Column("args_preview", sa.Text(), nullable=True),
        sa.Column("error_type", sa.String(length=200), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('complete', 'failed', 'retried')", name=op.f("ck_job_run_status_valid")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_run")),
    )
    op.create_table(
        "job_metric_minute",
        sa.Column("function", sa.String(length=100), nullable=False),
        sa.Column("queue", sa.String(length=100), nullable=False),
        sa.Column("minute", sa.DateTime(timezone=True), nullable=False),
        sa.Column("complete", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("retried", sa.Integer(), nullable=False),
        sa.Column("run_ms_sum", sa.BigInteger(), nullable=False),
        sa.Column("wait_ms_sum", sa.BigInteger(), nullable=False),
        sa.Column("run_buckets", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.Column("wait_buckets", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.PrimaryKeyConstraint("function", "queue", "minute", name=op.f("pk_job_metric_minute")),
    )
    with op.get_context().autocommit_block():
        for name, table, columns in INDEXES:
            _drop_invalid_index(name)
            op.create_index(name, table, list(columns), postgresql_concurrently=True, if_not_exists=True)
        for name, table, column in TRIGRAM_INDEXES:
            _drop_invalid_index(name)
            op.create_index(
                name,
                table,
                [column],
                postgresql_using="gin",
                postgresql_ops={column: "gin_trgm_ops"},
                postgresql_concurrently=True,
                if_not_exists=True,
            )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("job_metric_minute")  # its indexes go with it
    op.drop_table("job_run")
