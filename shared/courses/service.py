"""Students, courses and enrollments: writes and the reads that 404 on unknown ids.

Reads take the viewer: emails and grades are shaped in only for admins (`sees_student_records`).
The enrollment lists are keyset pages (shared.pagination): they grow with the enrollment table."""

from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.auth.callers import Caller
from shared.courses import queries
from shared.courses.schemas import (
    DEFAULT_PAGE,
    CourseCreate,
    CourseEnrollment,
    CourseEnrollmentPublic,
    CourseRead,
    EnrollmentCreate,
    EnrollmentGrade,
    StudentCreate,
    StudentEnrollment,
    StudentEnrollmentPublic,
    StudentNamePosition,
    StudentPublic,
    StudentRead,
    TermPosition,
)
from shared.db import flush
from shared.errors import NotFound
from shared.models.courses import Course, Enrollment, Semester, Student
from shared.models.users import Role
from shared.pagination import page_as_seen
from shared.schemas import Page, row_id


def sees_student_records(viewer: Caller | None) -> bool:
    """Whether `viewer` may see students' emails and grades: admins only."""
    return viewer is not None and viewer.role == Role.admin


async def create_student(session: AsyncSession, data: StudentCreate) -> Student:
    """A new student; an email already used (in any case) is a 409 (uq_student_email_lower)."""
    student = Student(name=data.name, email=data.email)
    session.add(student)
    await flush(session)
    return student


async def create_course(session: AsyncSession, data: CourseCreate) -> Course:
    """A new course; a code already used is a 409 (uq_course_code)."""
    course = Course(name=data.name, code=data.code)
    session.add(course)
    await flush(session)
    return course


async def get_student(session: AsyncSession, student_id: int) -> Student:
    student = await session.get(Student, student_id)
    if student is None:
        raise NotFound("student", student_id)
    return student


async def get_course(session: AsyncSession, course_id: int) -> Course:
    course = await session.get(Course, course_id)
    if course is None:
        raise NotFound("course", course_id)
    return course


async def enroll(session: AsyncSession, course_id: int, data: EnrollmentCreate) -> Enrollment:
    """Enroll a student in a course. Unknown course or student: 404; enrolled already: 409 (pk_enrollment)."""
    await get_course(session, course_id)
    await get_student(session, data.student_id)
    enrollment = Enrollment(
        student_id=data.student_id, course_id=course_id, semester=data.semester, year=data.year, grade=data.grade
    )
    session.add(enrollment)
    await flush(session)
    return enrollment


async def grade(session: AsyncSession, course_id: int, student_id: int, data: EnrollmentGrade) -> Enrollment:
    """Record (or clear) a student's grade in a course; the row is locked so two graders do not interleave."""
    enrollment = await session.get(Enrollment, {"student_id": student_id, "course_id": course_id}, with_for_update=True)
    if enrollment is None:
        raise NotFound("enrollment of student", f"{student_id} in course {course_id}")
    enrollment.grade = data.grade
    await flush(session)
    return enrollment


def student_view(student: Student, viewer: Caller | None) -> StudentPublic | StudentRead:
    """The student as `viewer` may see them: with their email for admins only."""
    if sees_student_records(viewer):
        return StudentRead.model_validate(student)
    return StudentPublic.model_validate(student)


async def courses_of_student(
    session: AsyncSession,
    student_id: int,
    viewer: Caller | None = None,
    *,
    limit: int = DEFAULT_PAGE,
    cursor: str | None = None,
) -> Page[CourseEnrollmentPublic] | Page[CourseEnrollment]:
    """A page of the student's courses with their enrollments, by year and term; the grades for
    admins only. An unknown student is a 404 on every page (the same statement says so)."""
    position = TermPosition.decode(cursor)
    after = (position.year, queries.term_rank(position.semester), position.course_id) if position else None
    pairs = await queries.student_courses_page(session, student_id, limit=limit, after=after)
    if pairs is None:
        raise NotFound("student", student_id)
    return page_as_seen(
        pairs,
        limit,
        _term_position,
        full=sees_student_records(viewer),
        admin=(
            lambda pair: CourseEnrollment.model_validate(
                _payload(pair[0], with_grade=True, course=CourseRead.model_validate(pair[1]))
            ),
            Page[CourseEnrollment],
        ),
        public=(
            lambda pair: CourseEnrollmentPublic.model_validate(
                _payload(pair[0], course=CourseRead.model_validate(pair[1]))
            ),
            Page[CourseEnrollmentPublic],
        ),
    )


async def students_of_course(
    session: AsyncSession,
    course_id: int,
    viewer: Caller | None = None,
    *,
    limit: int = DEFAULT_PAGE,
    cursor: str | None = None,
) -> Page[StudentEnrollmentPublic] | Page[StudentEnrollment]:
    """A page of the course's students with their enrollments, by name; emails and grades for
    admins only. An unknown course is a 404 on every page (the same statement says so)."""
    position = StudentNamePosition.decode(cursor)
    after = (position.name, position.id) if position else None
    pairs = await queries.course_students_page(session, course_id, limit=limit, after=after)
    if pairs is None:
        raise NotFound("course", course_id)
    return page_as_seen(
        pairs,
        limit,
        _name_position,
        full=sees_student_records(viewer),
        admin=(
            lambda pair: StudentEnrollment.model_validate(
                _payload(pair[0], with_grade=True, student=StudentRead.model_validate(pair[1]))
            ),
            Page[StudentEnrollment],
        ),
        public=(
            lambda pair: StudentEnrollmentPublic.model_validate(
                _payload(pair[0], student=StudentPublic.model_validate(pair[1]))
            ),
            Page[StudentEnrollmentPublic],
        ),
    )


def _term_position(pair: tuple[Enrollment, Course]) -> TermPosition:
    enrollment, _ = pair
    return TermPosition(year=enrollment.year, semester=Semester(enrollment.semester), course_id=enrollment.course_id)


def _name_position(pair: tuple[Enrollment, Student]) -> StudentNamePosition:
    _, student = pair
    return StudentNamePosition(name=student.name, id=row_id(student))


_PUBLIC_PAYLOAD = {"student_id", "course_id", "enrollment_date", "semester", "year"}


def _payload(enrollment: Enrollment, *, with_grade: bool = False, **linked: SQLModel) -> dict[str, object]:
    """The enrollment's fields (the grade only `with_grade`) and the `linked` row's shape, as the data
    the response model validates (the table stores the semester as text; the model reads its enum)."""
    fields = enrollment.model_dump(include=_PUBLIC_PAYLOAD | {"grade"} if with_grade else _PUBLIC_PAYLOAD)
    return {**fields, **linked}
