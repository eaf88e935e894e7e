"""Students, courses and enrollments over HTTP: the payload travels both ways, one statement per list."""

import pytest
from httpx import AsyncClient
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import flush
from shared.models.courses import Course, Enrollment, Student
from shared.models.users import Role
from tests.api.conftest import SignedIn
from tests.conftest import StatementLog
from tests.shared.factories import unique

API = "/api/v1"


async def add_students(session: AsyncSession, count: int) -> list[Student]:
    rows = [Student(name=unique("student"), email=f"{unique('s')}@example.com") for _ in range(count)]
    session.add_all(rows)
    await flush(session)
    return rows


async def add_courses(session: AsyncSession, count: int) -> list[Course]:
    rows = [Course(name=unique("course"), code=unique("C").upper()) for _ in range(count)]
    session.add_all(rows)
    await flush(session)
    return rows


async def enroll_all(session: AsyncSession, students: list[Student], courses: list[Course]) -> None:
    session.add_all(
        Enrollment(student_id=s.id, course_id=c.id, semester="fall", year=2025)  # type: ignore[arg-type]
        for s in students
        for c in courses
    )
    await flush(session)


async def test_an_admin_registers_students_and_courses_and_anyone_reads_them_without_the_email(
    client: AsyncClient,
    login,  # type: ignore[no-untyped-def]
) -> None:
    admin: SignedIn = await login(Role.admin)
    student = await client.post(
        f"{API}/students", json={"name": " Ada ", "email": "ada@example.com"}, headers=admin.headers
    )
    assert student.status_code == 201, student.text
    assert student.json() | {"id": 0} == {"id": 0, "name": "Ada", "email": "ada@example.com"}
    course = await client.post(f"{API}/courses", json={"name": "Databases", "code": " db101 "}, headers=admin.headers)
    assert course.status_code == 201, course.text
    assert course.json()["code"] == "DB101"
    url = f"{API}/students/{student.json()['id']}"
    assert (await client.get(url, headers=admin.headers)).json() == student.json()
    assert (await client.get(url)).json() == {"id": student.json()["id"], "name": "Ada"}  # the email is for admins
    assert (await client.get(f"{API}/courses/{course.json()['id']}")).json() == course.json()


async def test_course_writes_need_a_token_and_the_admin_role(client: AsyncClient, login, session: AsyncSession) -> None:  # type: ignore[no-untyped-def]
    author: SignedIn = await login(Role.author)
    moderator: SignedIn = await login(Role.moderator)
    [student] = await add_students(session, 1)
    [course] = await add_courses(session, 1)
    await enroll_all(session, [student], [course])
    [other] = await add_students(session, 1)
    writes = [
        ("POST", f"{API}/students", {"name": "x", "email": "x@example.com"}),
        ("POST", f"{API}/courses", {"name": "x", "code": "X1"}),
        ("POST", f"{API}/courses/{course.id}/enrollments", {"student_id": other.id, "semester": "fall", "year": 2025}),
        ("PATCH", f"{API}/courses/{course.id}/enrollments/{student.id}", {"grade": "A"}),
    ]
    for method, url, body in writes:
        assert (await client.request(method, url, json=body)).status_code == 401
        for caller in (author, moderator):
            response = await client.request(method, url, json=body, headers=caller.headers)
            assert response.status_code == 403, (method, url, response.text)
    listed = (await client.get(f"{API}/courses/{course.id}/students")).json()["items"]
    assert [e["student_id"] for e in listed] == [student.id] and "grade" not in listed[0]


async def test_duplicate_student_email_and_course_code_are_409(client: AsyncClient, login) -> None:  # type: ignore[no-untyped-def]
    admin: SignedIn = await login(Role.admin)
    first = await client.post(f"{API}/students", json={"name": "A", "email": "dup@example.com"}, headers=admin.headers)
    assert first.status_code == 201
    again = await client.post(f"{API}/students", json={"name": "B", "email": "DUP@example.com"}, headers=admin.headers)
    assert again.status_code == 409 and again.json()["rule"] == "uq_student_email_lower"
    assert (
        await client.post(f"{API}/courses", json={"name": "A", "code": "X9"}, headers=admin.headers)
    ).status_code == 201
    clash = await client.post(f"{API}/courses", json={"name": "B", "code": "x9"}, headers=admin.headers)
    assert clash.status_code == 409 and clash.json()["rule"] == "uq_course_code"


async def test_enrolling_returns_the_payload_and_twice_is_409(
    client: AsyncClient, login, session: AsyncSession
) -> None:  # type: ignore[no-untyped-def]
    admin: SignedIn = await login(Role.admin)
    [student] = await add_students(session, 1)
    [course] = await add_courses(session, 1)
    body = {"student_id": student.id, "semester": "spring", "year": 2026}
    created = await client.post(f"{API}/courses/{course.id}/enrollments", json=body, headers=admin.headers)
    assert created.status_code == 201, created.text
    payload = created.json()
    assert payload["student_id"] == student.id and payload["course_id"] == course.id
    assert payload["semester"] == "spring" and payload["year"] == 2026 and payload["grade"] is None
    assert payload["enrollment_date"]
    again = await client.post(f"{API}/courses/{course.id}/enrollments", json=body, headers=admin.headers)
    assert again.status_code == 409
    assert again.json()["rule"] == "pk_enrollment"
    assert "already enrolled" in again.json()["detail"]


async def test_enrolling_with_an_unknown_course_or_student_is_404(
    client: AsyncClient, login, session: AsyncSession
) -> None:  # type: ignore[no-untyped-def]
    admin: SignedIn = await login(Role.admin)
    [student] = await add_students(session, 1)
    [course] = await add_courses(session, 1)
    missing = 999_999_999
    body = {"student_id": student.id, "semester": "fall", "year": 2025}
    unknown_course = await client.post(f"{API}/courses/{missing}/enrollments", json=body, headers=admin.headers)
    assert unknown_course.status_code == 404 and "course" in unknown_course.json()["detail"]
    unknown_student = await client.post(
        f"{API}/courses/{course.id}/enrollments", json=body | {"student_id": missing}, headers=admin.headers
    )
    assert unknown_student.status_code == 404 and "student" in unknown_student.json()["detail"]
    not_enrolled = await client.patch(
        f"{API}/courses/{course.id}/enrollments/{student.id}", json={"grade": "B"}, headers=admin.headers
    )
    assert not_enrolled.status_code == 404
    for url in (f"{API}/students/{missing}", f"{API}/students/{missing}/courses"):
        assert (await client.get(url)).status_code == 404
    for url in (f"{API}/courses/{missing}", f"{API}/courses/{missing}/students"):
        assert (await client.get(url)).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"semester": "autumn", "year": 2025}, "body.semester"),
        ({"semester": "fall", "year": 1899}, "body.year"),
        ({"semester": "fall", "year": 2201}, "body.year"),
        ({"semester": "fall", "year": 2025, "grade": "E"}, "body.grade"),
        ({"semester": "fall", "year": 2025, "room": 4}, "body.room"),
        ({"year": 2025}, "body.semester"),
    ],
)
async def test_bad_enrollment_input_is_422_naming_the_field_and_writes_nothing(
    client: AsyncClient,
    login,  # type: ignore[no-untyped-def]
    session: AsyncSession,
    body: dict[str, object],
    field: str,
) -> None:
    admin: SignedIn = await login(Role.admin)
    [student] = await add_students(session, 1)
    [course] = await add_courses(session, 1)
    response = await client.post(
        f"{API}/courses/{course.id}/enrollments", json={"student_id": student.id} | body, headers=admin.headers
    )
    assert response.status_code == 422, response.text
    assert field in {error["field"] for error in response.json()["errors"]}
    rows = await session.exec(select(Enrollment).where(col(Enrollment.course_id) == course.id))
    assert rows.all() == []


@pytest.mark.parametrize("grade", ["A", "B+", "C-", "D", "F", None])
async def test_a_valid_grade_is_recorded(client: AsyncClient, login, session: AsyncSession, grade: str | None) -> None:  # type: ignore[no-untyped-def]
    admin: SignedIn = await login(Role.admin)
    [student] = await add_students(session, 1)
    [course] = await add_courses(session, 1)
    await enroll_all(session, [student], [course])
    url = f"{API}/courses/{course.id}/enrollments/{student.id}"
    response = await client.patch(url, json={"grade": grade}, headers=admin.headers)
    assert response.status_code == 200, response.text
    assert response.json()["grade"] == grade
    listed = (await client.get(f"{API}/students/{student.id}/courses", headers=admin.headers)).json()["items"]
    assert [e["grade"] for e in listed] == [grade]


@pytest.mark.parametrize("grade", ["E", "F+", "A++", "a", "", "AB", 4])
async def test_an_invalid_grade_is_422_on_the_grade_field(
    client: AsyncClient,
    login,  # type: ignore[no-untyped-def]
    session: AsyncSession,
    grade: object,
) -> None:
    admin: SignedIn = await login(Role.admin)
    [student] = await add_students(session, 1)
    [course] = await add_courses(session, 1)
    await enroll_all(session, [student], [course])
    url = f"{API}/courses/{course.id}/enrollments/{student.id}"
    response = await client.patch(url, json={"grade": grade}, headers=admin.headers)
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["body.grade"]
    assert (await client.patch(url, json={}, headers=admin.headers)).status_code == 422  # grade is required


async def test_bad_student_and_course_input_is_422(client: AsyncClient, login) -> None:  # type: ignore[no-untyped-def]
    admin: SignedIn = await login(Role.admin)
    student = await client.post(f"{API}/students", json={"name": "", "email": "nope"}, headers=admin.headers)
    assert student.status_code == 422
    assert {e["field"] for e in student.json()["errors"]} == {"body.name", "body.email"}
    course = await client.post(f"{API}/courses", json={"name": "x", "code": "C" * 21}, headers=admin.headers)
    assert course.status_code == 422
    assert {e["field"] for e in course.json()["errors"]} == {"body.code"}


async def test_each_side_lists_the_other_with_the_enrollment_payload(
    client: AsyncClient,
    session: AsyncSession,
    login,  # type: ignore[no-untyped-def]
) -> None:
    """As an admin sees it (grades and emails); tests/api/test_private_data.py has everyone else."""
    admin: SignedIn = await login(Role.admin)
    [student] = await add_students(session, 1)
    later, earlier = await add_courses(session, 2)
    session.add_all(
        [
            Enrollment(student_id=student.id, course_id=later.id, semester="fall", year=2025, grade="A-"),  # type: ignore[arg-type]
            Enrollment(student_id=student.id, course_id=earlier.id, semester="summer", year=2025),  # type: ignore[arg-type]
        ]
    )
    await flush(session)
    courses = (await client.get(f"{API}/students/{student.id}/courses", headers=admin.headers)).json()["items"]
    assert [e["course"]["id"] for e in courses] == [earlier.id, later.id]  # summer before fall
    assert courses[1] | {"enrollment_date": None} == {
        "student_id": student.id,
        "course_id": later.id,
        "enrollment_date": None,
        "grade": "A-",
        "semester": "fall",
        "year": 2025,
        "course": {"id": later.id, "name": later.name, "code": later.code},
    }
    students = (await client.get(f"{API}/courses/{later.id}/students", headers=admin.headers)).json()["items"]
    assert [(e["student"]["id"], e["student"]["email"], e["grade"]) for e in students] == [
        (student.id, student.email, "A-")
    ]
    [lonely] = await add_students(session, 1)
    assert (await client.get(f"{API}/students/{lonely.id}/courses")).json() == {"items": [], "next_cursor": None}


async def test_student_courses_take_one_statement_at_two_sizes(
    client: AsyncClient, session: AsyncSession, statements: StatementLog
) -> None:
    counts = []
    for size in (3, 30):
        [student] = await add_students(session, 1)
        courses = await add_courses(session, size)
        await enroll_all(session, [student], courses)
        with statements.record():
            response = await client.get(f"{API}/students/{student.id}/courses")
        assert len(response.json()["items"]) == size
        counts.append(statements.count)
    assert counts == [1, 1]


async def test_course_students_take_one_statement_at_two_sizes(
    client: AsyncClient, session: AsyncSession, statements: StatementLog
) -> None:
    counts = []
    for size in (3, 30):
        [course] = await add_courses(session, 1)
        students = await add_students(session, size)
        await enroll_all(session, students, [course])
        with statements.record():
            response = await client.get(f"{API}/courses/{course.id}/students")
        assert len(response.json()["items"]) == size
        counts.append(statements.count)
    assert counts == [1, 1]
