"""Enrollment reads and writes: the association object carries the payload both ways."""

from collections.abc import Sequence

from sqlalchemy import case
from sqlalchemy.orm import contains_eager
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.models.base import attribute
from shared.models.courses import Course, Enrollment, Semester, Student

# Terms in the order they come within a year (string order would put fall first).
TERM_ORDER = case({term.value: position for position, term in enumerate(Semester)}, value=col(Enrollment.semester))


async def courses_of_student(session: AsyncSession, student_id: int) -> Sequence[Enrollment]:
    """A student's enrollments, each with its course loaded from the same JOIN (one statement)."""
    statement = (
        select(Enrollment)
        .join(Course, col(Course.id) == col(Enrollment.course_id))
        .where(col(Enrollment.student_id) == student_id)
        .options(contains_eager(attribute(Enrollment.course)))
        .order_by(col(Enrollment.year), TERM_ORDER, col(Course.code))  # terms in calendar order
    )
    return (await session.exec(statement)).all()


async def students_of_course(session: AsyncSession, course_id: int) -> Sequence[Enrollment]:
    """A course's enrollments, each with its student loaded from the same JOIN (one statement)."""
    statement = (
        select(Enrollment)
        .join(Student, col(Student.id) == col(Enrollment.student_id))
        .where(col(Enrollment.course_id) == course_id)
        .options(contains_eager(attribute(Enrollment.student)))
        .order_by(col(Student.name), col(Student.id))
    )
    return (await session.exec(statement)).all()


async def student_with_courses(
    session: AsyncSession, student_id: int
) -> tuple[Student | None, list[tuple[Enrollment, Course]]]:
    """The student and each (enrollment, course) of theirs, in ONE statement, by year and term.

    LEFT JOINs from the student, so "unknown student" (no row) and "no courses" (one row
    without an enrollment) are told apart without a second query.
    """
    statement = (
        select(Student, Enrollment, Course)
        .outerjoin(Enrollment, col(Enrollment.student_id) == col(Student.id))
        .outerjoin(Course, col(Course.id) == col(Enrollment.course_id))
        .where(col(Student.id) == student_id)
        .order_by(col(Enrollment.year), TERM_ORDER, col(Course.code))
    )
    rows = (await session.exec(statement)).all()
    if not rows:
        return None, []
    pairs = [(enrollment, course) for _, enrollment, course in rows if enrollment is not None and course is not None]
    return rows[0][0], pairs


async def course_with_students(
    session: AsyncSession, course_id: int
) -> tuple[Course | None, list[tuple[Enrollment, Student]]]:
    """The course and each (enrollment, student) in it, in ONE statement, by student name."""
    statement = (
        select(Course, Enrollment, Student)
        .outerjoin(Enrollment, col(Enrollment.course_id) == col(Course.id))
        .outerjoin(Student, col(Student.id) == col(Enrollment.student_id))
        .where(col(Course.id) == course_id)
        .order_by(col(Student.name), col(Student.id))
    )
    rows = (await session.exec(statement)).all()
    if not rows:
        return None, []
    pairs = [(enrollment, student) for _, enrollment, student in rows if enrollment is not None and student is not None]
    return rows[0][0], pairs
