"""Students and courses: many-to-many with a payload, as an association object.

Enrollment is a class of its own (student.enrollments -> enrollment.course) so the
payload is readable and writable; `Student.courses` / `Course.students` are
read-only shortcuts through it (sqlmodel's "link with extra fields" pattern).
"""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, DateTime, Index, String, func, text
from sqlmodel import Field, Relationship, SQLModel

from shared.models.base import RAISE, now_utc, one_of


class Semester(StrEnum):
    spring = "spring"
    summer = "summer"
    fall = "fall"
    winter = "winter"


# Letter grades A..D with an optional +/-, or F.
GRADE_PATTERN = r"^([A-D][+-]?|F)$"
MIN_YEAR, MAX_YEAR = 1900, 2200
# A term's place in its year (as text, fall would sort first), written with literals: the index on
# a student's enrollments holds this expression, and PostgreSQL uses it only for a query that
# spells the same expression (shared.courses.queries.TERM_ORDER), not for one with parameters.
# Laid out (line breaks, ELSE NULL) as PostgreSQL prints it back, so autogenerate sees no change.
TERM_RANK_SQL = (
    "\nCASE semester\n"
    + "".join(f"    WHEN '{term.value}' THEN {rank}\n" for rank, term in enumerate(Semester))
    + "    ELSE NULL\nEND"
)


class Enrollment(SQLModel, table=True):
    __table_args__ = (
        CheckConstraint(f"grade ~ '{GRADE_PATTERN}'", name="grade_valid"),
        CheckConstraint(f"year BETWEEN {MIN_YEAR} AND {MAX_YEAR}", name="year_valid"),
        one_of("semester", Semester, "semester_valid"),
        # A student's courses in calendar order, a page at a time (GET /students/{id}/courses).
        Index("ix_enrollment_student_term", "student_id", "year", text(TERM_RANK_SQL), "course_id"),
    )

    student_id: int = Field(foreign_key="student.id", primary_key=True, ondelete="CASCADE")
    course_id: int = Field(foreign_key="course.id", primary_key=True, ondelete="CASCADE", index=True)
    enrollment_date: datetime = Field(
        default_factory=now_utc,
        sa_type=DateTime(timezone=True),
        sa_column_kwargs={"server_default": func.now()},
    )
    grade: str | None = Field(default=None, sa_type=String(2))
    semester: str = Field(sa_type=String(10))
    year: int

    student: "Student" = Relationship(back_populates="enrollments", sa_relationship_kwargs={"lazy": RAISE})
    course: "Course" = Relationship(back_populates="enrollments", sa_relationship_kwargs={"lazy": RAISE})


class Student(SQLModel, table=True):
    __table_args__ = (
        Index("uq_student_email_lower", func.lower(text("email")), unique=True),
        # A course's students by name, a page at a time (GET /courses/{id}/students): walked in
        # order from the cursor, each student's enrollment in the course probed by pk_enrollment.
        Index("ix_student_name_id", "name", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    email: str = Field(max_length=320)

    enrollments: list[Enrollment] = Relationship(
        back_populates="student", passive_deletes=True, sa_relationship_kwargs={"lazy": RAISE}
    )
    courses: list["Course"] = Relationship(
        link_model=Enrollment,
        sa_relationship_kwargs={"lazy": RAISE, "viewonly": True},
    )


class Course(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    code: str = Field(max_length=20, unique=True)

    enrollments: list[Enrollment] = Relationship(
        back_populates="course", passive_deletes=True, sa_relationship_kwargs={"lazy": RAISE}
    )
    students: list[Student] = Relationship(
        link_model=Enrollment,
        sa_relationship_kwargs={"lazy": RAISE, "viewonly": True},
    )
