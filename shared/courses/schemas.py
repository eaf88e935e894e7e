"""Request and response shapes for students, courses and enrollments.

The pydantic rules repeat the table's CHECK constraints (grade, semester, year) so a bad
value is a 422 on its field before any SQL runs; the constraints still guard every other path.
"""

from datetime import datetime
from typing import Annotated

from pydantic import EmailStr, StringConstraints
from sqlmodel import Field, SQLModel

from shared.models.courses import GRADE_PATTERN, MAX_YEAR, MIN_YEAR, Semester
from shared.schemas import FromText, RowId, Strict, trimmed_text

Grade = Annotated[str, StringConstraints(pattern=GRADE_PATTERN)]
Year = Annotated[int, Field(ge=MIN_YEAR, le=MAX_YEAR)]
# Course codes are compared as written in the unique index, so they are stored in one case.
CourseCode = trimmed_text(20, lambda code: code.strip().upper())


class StudentCreate(Strict):
    name: trimmed_text(100)  # type: ignore[valid-type]
    email: EmailStr = Field(max_length=320)


class StudentRead(SQLModel):
    id: int
    name: str
    email: str


class CourseCreate(Strict):
    name: trimmed_text(200)  # type: ignore[valid-type]
    code: CourseCode


class CourseRead(SQLModel):
    id: int
    name: str
    code: str


class EnrollmentCreate(Strict):
    student_id: RowId
    semester: Annotated[Semester, FromText]
    year: Year
    grade: Grade | None = None


class EnrollmentGrade(Strict):
    """The grade to record; null clears it (say, a grade entered by mistake)."""

    grade: Grade | None


class EnrollmentRead(SQLModel):
    """The payload of the association: when, which term, and the grade (null until graded)."""

    student_id: int
    course_id: int
    enrollment_date: datetime
    grade: str | None
    semester: Semester
    year: int


class CourseEnrollment(EnrollmentRead):
    """One of a student's courses, with the enrollment that links them."""

    course: CourseRead


class StudentEnrollment(EnrollmentRead):
    """One of a course's students, with the enrollment that links them."""

    student: StudentRead
