"""Students, courses and enrollments: writes and the reads that 404 on unknown ids."""

from sqlmodel.ext.asyncio.session import AsyncSession

from shared.courses import queries
from shared.courses.schemas import (
    CourseCreate,
    CourseEnrollment,
    CourseRead,
    EnrollmentCreate,
    EnrollmentGrade,
    StudentCreate,
    StudentEnrollment,
    StudentRead,
)
from shared.db import flush
from shared.errors import NotFound
from shared.models import Course, Enrollment, Student


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


async def courses_of_student(session: AsyncSession, student_id: int) -> list[CourseEnrollment]:
    student, pairs = await queries.student_with_courses(session, student_id)
    if student is None:
        raise NotFound("student", student_id)
    return [
        CourseEnrollment(**_payload(enrollment), course=CourseRead.model_validate(course))
        for enrollment, course in pairs
    ]


async def students_of_course(session: AsyncSession, course_id: int) -> list[StudentEnrollment]:
    course, pairs = await queries.course_with_students(session, course_id)
    if course is None:
        raise NotFound("course", course_id)
    return [
        StudentEnrollment(**_payload(enrollment), student=StudentRead.model_validate(student))
        for enrollment, student in pairs
    ]


def _payload(enrollment: Enrollment) -> dict[str, object]:
    return enrollment.model_dump(include={"student_id", "course_id", "enrollment_date", "grade", "semester", "year"})
