"""Enrollment reads and writes: the association object carries the payload both ways.

Each list is a keyset page (shared.pagination) in ONE statement that also says whether its student
or course exists: the page is a subquery LEFT JOINed to that row, so "unknown id" (no row) and "an
empty page" (one row of NULLs) are told apart without a second query."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Integer, case, literal_column, true
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import Select

from shared.models.courses import Course, Enrollment, Semester, Student
from shared.pagination import keyset

# Terms in the order they come within a year (string order would put fall first), with literals
# (not parameters): PostgreSQL serves it from ix_enrollment_student_term only if it is the very
# expression that index holds (shared.models.courses.TERM_RANK_SQL).
TERM_ORDER = case(
    {literal_column(f"'{term.value}'"): literal_column(str(rank), Integer) for rank, term in enumerate(Semester)},
    value=col(Enrollment.semester),
)
# A student's courses: by year, term, then course id (unique per student), as the index holds them.
STUDENT_COURSES_KEY = (col(Enrollment.year), TERM_ORDER, col(Enrollment.course_id))
# A course's students: by name, then id (unique), as ix_student_name_id holds them.
COURSE_STUDENTS_KEY = (col(Student.name), col(Student.id))
# (id, enrollment, course or student), as sqlmodel types them: the entities are None (all NULL) in
# the one row an empty page leaves beside the id.
StudentCourseRows = Select[int | None, Enrollment, Course]
CourseStudentRows = Select[int | None, Enrollment, Student]


def term_rank(semester: str) -> int:
    """The term's value of TERM_ORDER: its place in the year."""
    return list(Semester).index(Semester(semester))


def student_courses_statement(student_id: int, *, limit: int, after: Sequence[Any] | None = None) -> StudentCourseRows:
    """The student's id (no row: unknown student) with each (enrollment, course) of the page after
    `after` (year, term rank, course id); one row of NULLs beside the id when the page is empty."""
    page = keyset(
        select(Enrollment, Course)
        .join(Course, col(Course.id) == col(Enrollment.course_id))
        .where(col(Enrollment.student_id) == student_id)
        .add_columns(TERM_ORDER.label("term_rank")),
        STUDENT_COURSES_KEY,
        after,
        limit=limit,
    ).subquery("page")
    return (
        select(col(Student.id), aliased(Enrollment, page), aliased(Course, page))
        .outerjoin(page, true())
        .where(col(Student.id) == student_id)
        # The page's order again (a join keeps none): a sort of the page's rows, not of the table's.
        .order_by(page.c.year, page.c.term_rank, page.c.course_id)
    )


def course_students_statement(course_id: int, *, limit: int, after: Sequence[Any] | None = None) -> CourseStudentRows:
    """The course's id (no row: unknown course) with each (enrollment, student) of the page after
    `after` (name, student id); one row of NULLs beside the id when the page is empty."""
    page = keyset(
        select(Enrollment, Student)
        .join(Student, col(Student.id) == col(Enrollment.student_id))
        .where(col(Enrollment.course_id) == course_id),
        COURSE_STUDENTS_KEY,
        after,
        limit=limit,
    ).subquery("page")
    return (
        select(col(Course.id), aliased(Enrollment, page), aliased(Student, page))
        .outerjoin(page, true())
        .where(col(Course.id) == course_id)
        .order_by(page.c.name, page.c.id)
    )


async def student_courses_page(
    session: AsyncSession, student_id: int, *, limit: int, after: Sequence[Any] | None = None
) -> list[tuple[Enrollment, Course]] | None:
    """One page of the student's (enrollment, course) pairs (`limit` + 1 at most); None for an unknown student."""
    rows = (await session.exec(student_courses_statement(student_id, limit=limit, after=after))).all()
    if not rows:
        return None
    return [(enrollment, course) for _, enrollment, course in rows if enrollment is not None]


async def course_students_page(
    session: AsyncSession, course_id: int, *, limit: int, after: Sequence[Any] | None = None
) -> list[tuple[Enrollment, Student]] | None:
    """One page of the course's (enrollment, student) pairs (`limit` + 1 at most); None for an unknown course."""
    rows = (await session.exec(course_students_statement(course_id, limit=limit, after=after))).all()
    if not rows:
        return None
    return [(enrollment, student) for _, enrollment, student in rows if enrollment is not None]
