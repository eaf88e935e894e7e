"""Enrollment reads and writes: the association object carries the payload both ways."""

from collections.abc import Sequence

from sqlalchemy.orm import contains_eager
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.models import Course, Enrollment, Student


async def courses_of_student(session: AsyncSession, student_id: int) -> Sequence[Enrollment]:
    """A student's enrollments, each with its course loaded from the same JOIN (one statement)."""
    statement = (
        select(Enrollment)
        .join(Course, col(Course.id) == col(Enrollment.course_id))
        .where(col(Enrollment.student_id) == student_id)
        .options(contains_eager(Enrollment.course))  # type: ignore[arg-type]
        .order_by(col(Enrollment.year), col(Enrollment.semester), col(Course.code))
    )
    return (await session.exec(statement)).all()


async def students_of_course(session: AsyncSession, course_id: int) -> Sequence[Enrollment]:
    """A course's enrollments, each with its student loaded from the same JOIN (one statement)."""
    statement = (
        select(Enrollment)
        .join(Student, col(Student.id) == col(Enrollment.student_id))
        .where(col(Enrollment.course_id) == course_id)
        .options(contains_eager(Enrollment.student))  # type: ignore[arg-type]
        .order_by(col(Student.name), col(Student.id))
    )
    return (await session.exec(statement)).all()
