"""Students, courses and enrollments: writes and the reads that 404 on unknown ids.

Reads take the viewer: emails and grades are shaped in only for admins (`sees_student_records`)."""

from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.auth.callers import Caller
from shared.courses import queries
from shared.courses.schemas import (
    CourseCreate,
    CourseEnrollment,
    CourseEnrollmentPublic,
    CourseRead,
    EnrollmentCreate,
    EnrollmentGrade,
    StudentCreate,
    StudentEnrollment,
    StudentEnrollmentPublic,
    StudentPublic,
    StudentRead,
)
from shared.db import flush
from shared.errors import NotFound
from shared.models.courses import Course, Enrollment, Student
from shared.models.users import Role


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
    session: AsyncSession, student_id: int, viewer: Caller | None = None
) -> list[CourseEnrollmentPublic] | list[CourseEnrollment]:
    """The student's courses with their enrollments; the grades for admins only."""
    student, pairs = await queries.student_with_courses(session, student_id)
    if student is None:
        raise NotFound("student", student_id)
    if sees_student_records(viewer):
        return [
            CourseEnrollment.model_validate(
                _payload(enrollment, with_grade=True, course=CourseRead.model_validate(course))
            )
            for enrollment, course in pairs
        ]
    return [
        CourseEnrollmentPublic.model_validate(_payload(enrollment, course=CourseRead.model_validate(course)))
        for enrollment, course in pairs
    ]


async def students_of_course(
    session: AsyncSession, course_id: int, viewer: Caller | None = None
) -> list[StudentEnrollmentPublic] | list[StudentEnrollment]:
    """The course's students with their enrollments; emails and grades for admins only."""
    course, pairs = await queries.course_with_students(session, course_id)
    if course is None:
        raise NotFound("course", course_id)
    if sees_student_records(viewer):
        return [
            StudentEnrollment.model_validate(
                _payload(enrollment, with_grade=True, student=StudentRead.model_validate(student))
            )
            for enrollment, student in pairs
        ]
    return [
        StudentEnrollmentPublic.model_validate(_payload(enrollment, student=StudentPublic.model_validate(student)))
        for enrollment, student in pairs
    ]


_PUBLIC_PAYLOAD = {"student_id", "course_id", "enrollment_date", "semester", "year"}


def _payload(enrollment: Enrollment, *, with_grade: bool = False, **linked: SQLModel) -> dict[str, object]:
    """The enrollment's fields (the grade only `with_grade`) and the `linked` row's shape, as the data
    the response model validates (the table stores the semester as text; the model reads its enum)."""
    fields = enrollment.model_dump(include=_PUBLIC_PAYLOAD | {"grade"} if with_grade else _PUBLIC_PAYLOAD)
    return {**fields, **linked}
