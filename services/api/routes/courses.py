"""Students, courses and enrollments. Reads are public; writes are for admins.

Students' emails and grades are for admins only (shared.courses.service.sees_student_records);
anyone else gets the public shapes (StudentPublic, ...EnrollmentPublic) without those fields,
and OpenAPI documents both."""

from typing import Annotated

from fastapi import APIRouter, Query, status

from services.api.deps import OPTIONAL_AUTH, AdminUser, CursorParam, OptionalUser, SessionDep
from services.api.problems import BODY_ERRORS, problem_responses
from shared.courses import service
from shared.courses.schemas import (
    DEFAULT_PAGE,
    MAX_PAGE,
    CourseCreate,
    CourseEnrollment,
    CourseEnrollmentPublic,
    CourseRead,
    EnrollmentCreate,
    EnrollmentGrade,
    EnrollmentRead,
    StudentCreate,
    StudentEnrollment,
    StudentEnrollmentPublic,
    StudentPublic,
    StudentRead,
)
from shared.schemas import Page, RowId

router = APIRouter(tags=["courses"])

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="page size")]


@router.post(
    "/students",
    status_code=status.HTTP_201_CREATED,
    summary="Register a student",
    responses=problem_responses(*BODY_ERRORS, 401, 403, 409),
)
async def create_student(data: StudentCreate, session: SessionDep, admin: AdminUser) -> StudentRead:
    """Register a student (admins). An email already registered, in any case, is a 409."""
    return StudentRead.model_validate(await service.create_student(session, data))


@router.get(
    "/students/{student_id}",
    summary="Read a student",
    responses=problem_responses(401, 404),
    openapi_extra=OPTIONAL_AUTH,
)
async def read_student(student_id: RowId, session: SessionDep, viewer: OptionalUser) -> StudentPublic | StudentRead:
    """A student; their email for admins only (StudentRead), anyone else gets StudentPublic."""
    return service.student_view(await service.get_student(session, student_id), viewer)


@router.get(
    "/students/{student_id}/courses",
    summary="List a student's courses",
    responses=problem_responses(401, 404),
    openapi_extra=OPTIONAL_AUTH,
)
async def read_student_courses(
    student_id: RowId,
    session: SessionDep,
    viewer: OptionalUser,
    limit: Limit = DEFAULT_PAGE,
    cursor: CursorParam = None,
) -> Page[CourseEnrollmentPublic] | Page[CourseEnrollment]:
    """A page of the student's courses, each with its enrollment (date, term; the grade for admins
    only), by year and term (then course id). A `cursor` this service did not make is a 422."""
    return await service.courses_of_student(session, student_id, viewer, limit=limit, cursor=cursor)


@router.post(
    "/courses",
    status_code=status.HTTP_201_CREATED,
    summary="Create a course",
    responses=problem_responses(*BODY_ERRORS, 401, 403, 409),
)
async def create_course(data: CourseCreate, session: SessionDep, admin: AdminUser) -> CourseRead:
    """Create a course (admins). Codes are stored upper-case; a code in use is a 409."""
    return CourseRead.model_validate(await service.create_course(session, data))


@router.get("/courses/{course_id}", summary="Read a course", responses=problem_responses(404))
async def read_course(course_id: RowId, session: SessionDep) -> CourseRead:
    """One course: its name and (upper-case) code."""
    return CourseRead.model_validate(await service.get_course(session, course_id))


@router.get(
    "/courses/{course_id}/students",
    summary="List a course's students",
    responses=problem_responses(401, 404),
    openapi_extra=OPTIONAL_AUTH,
)
async def read_course_students(
    course_id: RowId,
    session: SessionDep,
    viewer: OptionalUser,
    limit: Limit = DEFAULT_PAGE,
    cursor: CursorParam = None,
) -> Page[StudentEnrollmentPublic] | Page[StudentEnrollment]:
    """A page of the course's students, each with their enrollment (date, term), by name (then id);
    their emails and grades for admins only. A `cursor` this service did not make is a 422."""
    return await service.students_of_course(session, course_id, viewer, limit=limit, cursor=cursor)


@router.post(
    "/courses/{course_id}/enrollments",
    status_code=status.HTTP_201_CREATED,
    summary="Enroll a student in a course",
    responses=problem_responses(*BODY_ERRORS, 401, 403, 404, 409),
)
async def enroll(course_id: RowId, data: EnrollmentCreate, session: SessionDep, admin: AdminUser) -> EnrollmentRead:
    """Enroll a student (admins). Unknown course or student: 404; already enrolled: 409."""
    return EnrollmentRead.model_validate(await service.enroll(session, course_id, data))


@router.patch(
    "/courses/{course_id}/enrollments/{student_id}",
    summary="Grade an enrollment",
    responses=problem_responses(*BODY_ERRORS, 401, 403, 404),
)
async def grade(
    course_id: RowId, student_id: RowId, data: EnrollmentGrade, session: SessionDep, admin: AdminUser
) -> EnrollmentRead:
    """Record a grade (admins): A-D with an optional + or -, or F; null clears it."""
    return EnrollmentRead.model_validate(await service.grade(session, course_id, student_id, data))
