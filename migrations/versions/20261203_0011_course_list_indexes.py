"""course lists: the indexes the two enrollment pages walk (a course's students, a student's courses)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 13:10:00

- ix_student_name_id: GET /courses/{id}/students pages by (student name, id); walked from the
  cursor, each student's enrollment in the course is probed by pk_enrollment, and the walk stops
  after the page (before it: every enrollment of the course, joined and sorted, on every page).
- ix_enrollment_student_term: GET /students/{id}/courses pages by (year, term, course id); the term
  is the same literal CASE expression the query orders by (shared.models.courses.TERM_RANK_SQL).

Both are built CONCURRENTLY, outside the migration's transaction: enrollment and student grow with
every enrollment, and a plain CREATE INDEX would block their writes for the length of the build.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out, not imported from the models: a migration keeps the schema of its day.
# (Laid out as PostgreSQL prints it back, which is what autogenerate compares the model's with.)
TERM_RANK_SQL = (
    "\nCASE semester\n"
    "    WHEN 'spring' THEN 0\n"
    "    WHEN 'summer' THEN 1\n"
    "    WHEN 'fall' THEN 2\n"
    "    WHEN 'winter' THEN 3\n"
    "    ELSE NULL\nEND"
)


def upgrade() -> None:
    """Upgrade schema."""
    with op.get_context().autocommit_block():
        _drop_invalid_index("ix_student_name_id")
        op.create_index(
            "ix_student_name_id", "student", ["name", "id"], postgresql_concurrently=True, if_not_exists=True
        )
        _drop_invalid_index("ix_enrollment_student_term")
        op.create_index(
            "ix_enrollment_student_term",
            "enrollment",
            ["student_id", "year", sa.text(f"({TERM_RANK_SQL})"), "course_id"],
            postgresql_concurrently=True,
            if_not_exists=True,
        )


def _drop_invalid_index(name: str) -> None:
    """An earlier CREATE INDEX CONCURRENTLY that was interrupted leaves an INVALID index of that
    name, which IF NOT EXISTS would keep: drop it, so a rerun builds it whole."""
    op.execute(
        f"""DO $$ BEGIN
        IF EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                   WHERE c.relname = '{name}' AND NOT i.indisvalid) THEN
            EXECUTE 'DROP INDEX {name}';
        END IF; END $$"""
    )


def downgrade() -> None:
    """Downgrade schema."""
    with op.get_context().autocommit_block():
        op.drop_index("ix_enrollment_student_term", table_name="enrollment", postgresql_concurrently=True)
        op.drop_index("ix_student_name_id", table_name="student", postgresql_concurrently=True)
