"""Request and response shapes for students, courses and enrollments.

The pydantic rules repeat the table's CHECK constraints (grade, semester, year) so a bad
value is a 422 on its field before any SQL runs; the constraints still guard every other path.

Students' emails and grades are for admins only (shared.courses.service.sees_student_records: the registrars, who
write them; moderators moderate comments and see no more than anyone else here). Everyone else
gets the `...Public` shapes, where those fields are absent, not null.
"""

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, EmailStr, StringConstraints
from sqlmodel import Field, SQLModel

from shared.models.courses import GRADE_PATTERN, MAX_YEAR, MIN_YEAR, Semester
from shared.schemas import CursorPosition, FromText, RowId, Strict, Trimmed, refuse_nul

# Page sizes of the two enrollment lists: those of the service's other lists (shared.heroes.schemas).
DEFAULT_PAGE = 50
MAX_PAGE = 100
STUDENT_NAME_MAX_LENGTH = 100

Grade = Annotated[str, StringConstraints(pattern=GRADE_PATTERN)]
Year = Annotated[int, Field(ge=MIN_YEAR, le=MAX_YEAR)]
# Course codes are compared as written in the unique index, so they are stored in one case.
CourseCode = Annotated[str, Trimmed(20, lambda code: code.strip().upper())]


class StudentCreate(Strict):
    name: Annotated[str, Trimmed(STUDENT_NAME_MAX_LENGTH)] = Field(description="The student's name; trimmed.")
    email: EmailStr = Field(max_length=320, description="Unique in any case; shown to admins only.")


class StudentPublic(SQLModel):
    """A student as anyone sees them: no email."""

    id: int
    name: str


class StudentRead(SQLModel):
    """A student with their email: admins only."""

    id: int
    name: str
    email: str


class CourseCreate(Strict):
    name: Annotated[str, Trimmed(200)] = Field(description="The course's name; trimmed.")
    code: CourseCode = Field(description="Unique; stored upper-case (`cs101` is `CS101`).")


class CourseRead(SQLModel):
    id: int
    name: str
    code: str


class EnrollmentCreate(Strict):
    student_id: RowId = Field(description="The student to enroll.")
    semester: Annotated[Semester, FromText] = Field(description="The term.")
    year: Year = Field(description="The term's year.")
    grade: Grade | None = Field(default=None, description="A-D with an optional + or -, or F; usually left out.")


class EnrollmentGrade(Strict):
    """The grade to record; null clears it (say, a grade entered by mistake)."""

    grade: Grade | None = Field(description="A-D with an optional + or -, or F; null clears it.")


class EnrollmentPublic(SQLModel):
    """The payload of the association as anyone sees it: when and which term, no grade."""

    student_id: int
    course_id: int
    enrollment_date: datetime
    semester: Semester
    year: int


class EnrollmentRead(SQLModel):
    """The payload of the association: when, which term, and the grade (null until graded).
    Admins only (it carries the grade)."""

    student_id: int
    course_id: int
    enrollment_date: datetime
    grade: str | None
    semester: Semester
    year: int


class CourseEnrollmentPublic(EnrollmentPublic):
    """One of a student's courses, with the enrollment that links them (no grade)."""

    course: CourseRead


class CourseEnrollment(EnrollmentRead):
    """One of a student's courses, with the enrollment that links them and its grade (admins)."""

    course: CourseRead


class StudentEnrollmentPublic(EnrollmentPublic):
    """One of a course's students, with the enrollment that links them (no email, no grade)."""

    student: StudentPublic


class StudentEnrollment(EnrollmentRead):
    """One of a course's students, with their email and grade (admins)."""

    student: StudentRead


class TermPosition(CursorPosition):
    """Where a page of a student's courses ended: the last one's year, term and course id."""

    year: Year
    semester: Semester
    course_id: RowId


class StudentNamePosition(CursorPosition):
    """Where a page of a course's students ended: the last one's name and id (names repeat)."""

    name: Annotated[str, StringConstraints(max_length=STUDENT_NAME_MAX_LENGTH), AfterValidator(refuse_nul)]
    id: RowId
