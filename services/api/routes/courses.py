"""Students, courses and enrollments. Reads are public; writes are for admins."""

from fastapi import APIRouter, status

from services.api.deps import AdminUser, SessionDep
from services.api.problems import BODY_ERRORS, problem_responses
from shared.courses import service
from shared.courses.schemas import (
    CourseCreate,
    CourseEnrollment,
    CourseRead,
    EnrollmentCreate,
    EnrollmentGrade,
    EnrollmentRead,
    StudentCreate,
    StudentEnrollment,
    StudentRead,
)
from shared.schemas import RowId

router = APIRouter(tags=["courses"], responses=problem_responses(422))


@router.post("/students", status_code=status.HTTP_201_CREATED, responses=problem_responses(*BODY_ERRORS, 401, 403, 409))
async def create_student(data: StudentCreate, session: SessionDep, admin: AdminUser) -> StudentRead:
    """Register a student (admins). An email already registered, in any case, is a 409."""
    return StudentRead.model_validate(await service.create_student(session, data))


@router.get("/students/{student_id}", responses=problem_responses(404))
async def read_student(student_id: RowId, session: SessionDep) -> StudentRead:
    return StudentRead.model_validate(await service.get_student(session, student_id))


@router.get("/students/{student_id}/courses", responses=problem_responses(404))
async def read_student_courses(student_id: RowId, session: SessionDep) -> list[CourseEnrollment]:
    """The student's courses, each with its enrollment (date, term, grade), by year and term."""
    return await service.courses_of_student(session, student_id)


@router.post("/courses", status_code=status.HTTP_201_CREATED, responses=problem_responses(*BODY_ERRORS, 401, 403, 409))
async def create_course(data: CourseCreate, session: SessionDep, admin: AdminUser) -> CourseRead:
    """Create a course (admins). Codes are stored upper-case; a code in use is a 409."""
    return CourseRead.model_validate(await service.create_course(session, data))


@router.get("/courses/{course_id}", responses=problem_responses(404))
async def read_course(course_id: RowId, session: SessionDep) -> CourseRead:
    return CourseRead.model_validate(await service.get_course(session, course_id))


@router.get("/courses/{course_id}/students", responses=problem_responses(404))
async def read_course_students(course_id: RowId, session: SessionDep) -> list[StudentEnrollment]:
    """The course's students, each with their enrollment (date, term, grade), by name."""
    return await service.students_of_course(session, course_id)


@router.post(
    "/courses/{course_id}/enrollments",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(*BODY_ERRORS, 401, 403, 404, 409),
)
async def enroll(course_id: RowId, data: EnrollmentCreate, session: SessionDep, admin: AdminUser) -> EnrollmentRead:
    """Enroll a student (admins). Unknown course or student: 404; already enrolled: 409."""
    return EnrollmentRead.model_validate(await service.enroll(session, course_id, data))


@router.patch("/courses/{course_id}/enrollments/{student_id}", responses=problem_responses(*BODY_ERRORS, 401, 403, 404))
async def grade(
    course_id: RowId, student_id: RowId, data: EnrollmentGrade, session: SessionDep, admin: AdminUser
) -> EnrollmentRead:
    """Record a grade (admins): A-D with an optional + or -, or F; null clears it."""
    return EnrollmentRead.model_validate(await service.grade(session, course_id, student_id, data))
