"""A student's courses and a course's students over HTTP, a keyset page at a time (issue 21): every
row exactly once, in order, each page one statement however deep, and a forged cursor a 422."""

from typing import Any

import pytest
from httpx import AsyncClient
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import flush
from shared.models.courses import Course, Enrollment, Student
from shared.models.users import Role
from tests.api.conftest import SignedIn
from tests.conftest import StatementLog
from tests.shared.factories import forge_cursor, unique

API = "/api/v1"


async def a_course_with_students(session: AsyncSession, names: list[str]) -> tuple[Course, list[Student]]:
    course = Course(name=unique("course"), code=unique("K").upper())
    students = [Student(name=name, email=f"{unique('s')}@example.com") for name in names]
    session.add_all([course, *students])
    await flush(session)
    session.add_all(
        Enrollment(student_id=s.id, course_id=course.id, semester="fall", year=2025, grade="B")  # type: ignore[arg-type]
        for s in students
    )
    await flush(session)
    return course, students


async def all_pages(
    client: AsyncClient, url: str, limit: int, headers: dict[str, str] | None = None
) -> list[list[dict[str, Any]]]:
    """Every page of `url`, following next_cursor to the end."""
    pages: list[list[dict[str, Any]]] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": limit} | ({"cursor": cursor} if cursor else {})
        response = await client.get(url, params=params, headers=headers or {})
        assert response.status_code == 200, response.text
        pages.append(response.json()["items"])
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 100, "the pages never end"


async def test_paging_a_courses_students_by_two_gives_each_once_by_name_then_id(
    client: AsyncClient, session: AsyncSession
) -> None:
    # Names repeat (the id breaks the tie) and differ in case: the database's collation orders them.
    course, students = await a_course_with_students(session, ["Zoe", "ann", "Bob", "Ann", "Bob", "Bob", "Carl"])
    expected = (
        await session.exec(
            select(col(Student.id))
            .where(col(Student.id).in_([s.id for s in students]))
            .order_by(col(Student.name), col(Student.id))
        )
    ).all()
    pages = await all_pages(client, f"{API}/courses/{course.id}/students", limit=2)
    assert [len(page) for page in pages] == [2, 2, 2, 1]
    assert [e["student"]["id"] for page in pages for e in page] == list(expected)
    assert {"email", "grade"} & {key for page in pages for e in page for key in e | e["student"]} == set()


async def test_an_admin_pages_through_the_same_students_with_their_emails_and_grades(
    client: AsyncClient,
    session: AsyncSession,
    login,  # type: ignore[no-untyped-def]
) -> None:
    admin: SignedIn = await login(Role.admin)
    course, students = await a_course_with_students(session, ["Ann", "Bob", "Cy"])
    pages = await all_pages(client, f"{API}/courses/{course.id}/students", limit=2, headers=admin.headers)
    served = [(e["student"]["email"], e["grade"]) for page in pages for e in page]
    assert served == [(s.email, "B") for s in students]


async def test_paging_a_students_courses_follows_the_calendar_then_the_course_id(
    client: AsyncClient, session: AsyncSession
) -> None:
    student = Student(name="Ann", email=f"{unique('s')}@example.com")
    courses = [Course(name=unique("course"), code=unique("T").upper()) for _ in range(5)]
    session.add_all([student, *courses])
    await flush(session)
    terms = [("fall", 2025), ("spring", 2026), ("spring", 2025), ("winter", 2025), ("spring", 2025)]
    session.add_all(
        Enrollment(student_id=student.id, course_id=c.id, semester=semester, year=year)  # type: ignore[arg-type]
        for c, (semester, year) in zip(courses, terms, strict=True)
    )
    await flush(session)
    pages = await all_pages(client, f"{API}/students/{student.id}/courses", limit=2)
    assert [len(page) for page in pages] == [2, 2, 1]
    served = [e["course"]["id"] for page in pages for e in page]
    # spring 2025 (two courses: by id), fall 2025, winter 2025, spring 2026
    assert served == [courses[2].id, courses[4].id, courses[0].id, courses[3].id, courses[1].id]


@pytest.mark.parametrize("path", ["courses/{course}/students", "students/{student}/courses"])
async def test_a_page_is_one_statement_however_deep(
    client: AsyncClient, session: AsyncSession, statements: StatementLog, path: str
) -> None:
    course, students = await a_course_with_students(session, [unique("n") for _ in range(3)])
    for extra in range(9):  # the first student: ten courses
        other = Course(name=unique("course"), code=unique("D").upper())
        session.add(other)
        await flush(session)
        session.add(Enrollment(student_id=students[0].id, course_id=other.id, semester="spring", year=2000 + extra))  # type: ignore[arg-type]
    await flush(session)
    url = f"{API}/" + path.format(course=course.id, student=students[0].id)
    counts, cursor = [], None
    for _ in range(3 if path.startswith("courses") else 5):
        with statements.record():
            response = await client.get(url, params={"limit": 1} | ({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200 and len(response.json()["items"]) == 1, response.text
        counts.append(statements.count)
        cursor = response.json()["next_cursor"]
    assert counts == [1] * len(counts)


async def test_an_unknown_id_is_404_on_every_page_and_an_empty_list_one_empty_page(
    client: AsyncClient, session: AsyncSession
) -> None:
    course, [student] = await a_course_with_students(session, ["Ann"])
    first = (await client.get(f"{API}/courses/{course.id}/students", params={"limit": 1})).json()
    assert first["next_cursor"] is None
    missing = 999_999_999
    for url in (f"{API}/courses/{missing}/students", f"{API}/students/{missing}/courses"):
        assert (await client.get(url)).status_code == 404
    cursor = forge_cursor({"name": "Ann", "id": student.id})
    assert (await client.get(f"{API}/courses/{missing}/students", params={"cursor": cursor})).status_code == 404
    past = await client.get(f"{API}/courses/{course.id}/students", params={"cursor": cursor})
    assert past.json() == {"items": [], "next_cursor": None}
    lonely = Course(name=unique("course"), code=unique("E").upper())
    session.add(lonely)
    await flush(session)
    assert (await client.get(f"{API}/courses/{lonely.id}/students")).json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize(
    ("path", "cursor"),
    [
        ("courses/1/students", "not a cursor!"),
        ("courses/1/students", forge_cursor({"name": "Ann"})),  # no id
        ("courses/1/students", forge_cursor({"name": "Ann", "id": "1"})),
        ("courses/1/students", forge_cursor({"name": "A" * 101, "id": 1})),
        ("courses/1/students", forge_cursor({"name": "A\u0000", "id": 1})),
        ("courses/1/students", forge_cursor({"year": 2025, "semester": "fall", "course_id": 1})),  # the other list's
        ("students/1/courses", forge_cursor({"year": 2025, "semester": "autumn", "course_id": 1})),
        ("students/1/courses", forge_cursor({"year": 1800, "semester": "fall", "course_id": 1})),
        ("students/1/courses", forge_cursor({"year": 2025, "semester": "fall", "course_id": 0})),
        ("students/1/courses", forge_cursor({"name": "Ann", "id": 1})),
    ],
)
async def test_a_forged_cursor_is_422_on_query_cursor(client: AsyncClient, path: str, cursor: str) -> None:
    response = await client.get(f"{API}/{path}", params={"cursor": cursor})
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["query.cursor"]


@pytest.mark.parametrize("limit", [0, 101, "ten"])
async def test_a_bad_limit_is_422(client: AsyncClient, limit: object) -> None:
    for path in ("courses/1/students", "students/1/courses"):
        response = await client.get(f"{API}/{path}", params={"limit": limit})
        assert response.status_code == 422
        assert [e["field"] for e in response.json()["errors"]] == ["query.limit"]
