"""durable job records

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 05:50:33.616685

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate may render sqlmodel column types)
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "job",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("function", sa.String(length=100), nullable=False),
        sa.Column("queue", sa.String(length=100), nullable=False),
        sa.Column("arguments", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("submitted_by", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tries", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("error", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'in_progress', 'complete', 'failed')", name=op.f("ck_job_status_valid")
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by"], ["user_account.id"], name=op.f("fk_job_submitted_by_user_account"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job")),
    )
    # Deleting a user sets its jobs' submitted_by to NULL: without this index, a scan of every job.
    op.create_index("ix_job_submitted_by", "job", ["submitted_by"], unique=False)
    op.create_index(
        "ix_job_finished_at", "job", ["finished_at"], unique=False, postgresql_where=sa.text("finished_at IS NOT NULL")
    )
    op.create_index(
        "ix_job_unfinished_created_at",
        "job",
        ["created_at"],
        unique=False,
        postgresql_where=sa.text("status IN ('queued', 'in_progress')"),
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index(
        "ix_job_unfinished_created_at",
        table_name="job",
        postgresql_where=sa.text("status IN ('queued', 'in_progress')"),
    )
    op.drop_index("ix_job_finished_at", table_name="job", postgresql_where=sa.text("finished_at IS NOT NULL"))
    op.drop_index("ix_job_submitted_by", table_name="job")
    op.drop_table("job")
