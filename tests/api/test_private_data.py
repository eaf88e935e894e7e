"""Private data never leaves through a public read: over HTTP, as an anonymous caller, an author,
a moderator and an admin.

Who sees what (the rule is in one predicate per domain):
- students' emails and grades: admins only (shared/courses/service.py::sees_student_records);
  moderators moderate comments, they are not registrars;
- heroes' secret identities, and who requested a transfer with which idempotency key: admins only
  (shared/heroes/service.py::sees_secret_identities).
Everyone else gets the public schema, where those fields are absent (not null), and OpenAPI
documents both shapes. The team document PostgreSQL builds leaves the secret identity out in SQL.
"""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient, Response
from sqlmodel import text
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import flush
from shared.models.courses import Course, Enrollment, Student
from shared.models.heroes import Item, TransferLog
from shared.models.users import Role
from tests.api.conftest import SignedIn
from tests.conftest import StatementLog
from tests.shared.factories import make_hero, make_team, unique

Login = Callable[..., Awaitable[SignedIn]]

API = "/api/v1"
VIEWERS = ["anonymous", "author", "moderator", "admin"]
NOT_ADMINS = ["anonymous", "author", "moderator"]


async def headers_of(login: Login, viewer: str) -> dict[str, str]:
    if viewer == "anonymous":
        return {}
    caller: SignedIn = await login(Role(viewer))
    return caller.headers


def keys_everywhere(document: Any) -> set[str]:
    """Every object key anywhere in a JSON document."""
    if isinstance(document, dict):
        return set(document) | {key for value in document.values() for key in keys_everywhere(value)}
    if isinstance(document, list):
        return {key for value in document for key in keys_everywhere(value)}
    return set()


def ok(response: Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


# --- students: emails and grades --------------------------------------------------------------


async def enrolled_student(session: AsyncSession) -> tuple[Student, Course, str]:
    email = f"{unique('private')}@example.com"
    student = Student(name=unique("student"), email=email)
    course = Course(name=unique("course"), code=unique("P").upper())
    session.add_all([student, course])
    await flush(session)
    session.add(Enrollment(student_id=student.id, course_id=course.id, semester="fall", year=2025, grade="B+"))  # type: ignore[arg-type]
    await flush(session)
    return student, course, email


@pytest.mark.parametrize("viewer", VIEWERS)
async def test_students_emails_and_grades_are_for_admins_only(
    client: AsyncClient, session: AsyncSession, login: Login, viewer: str
) -> None:
    student, course, email = await enrolled_student(session)
    headers = await headers_of(login, viewer)
    one = await client.get(f"{API}/students/{student.id}", headers=headers)
    courses = await client.get(f"{API}/students/{student.id}/courses", headers=headers)
    students = await client.get(f"{API}/courses/{course.id}/students", headers=headers)
    if viewer == "admin":
        assert ok(one) == {"id": student.id, "name": student.name, "email": email}
        assert [e["grade"] for e in ok(courses)["items"]] == ["B+"]
        [listed] = ok(students)["items"]
        assert (listed["grade"], listed["student"]["email"]) == ("B+", email)
        return
    assert ok(one) == {"id": student.id, "name": student.name}
    [enrollment] = ok(courses)["items"]
    assert enrollment["course"]["id"] == course.id and enrollment["semester"] == "fall"
    [listed] = ok(students)["items"]
    assert listed["student"] == {"id": student.id, "name": student.name}
    for response in (one, courses, students):
        assert {"email", "grade"} & keys_everywhere(response.json()) == set(), response.text
        assert email not in response.text


# --- heroes: secret identities ----------------------------------------------------------------


async def a_team_with_a_secret(session: AsyncSession) -> tuple[int, int, str]:
    """A team (with the highest average age, so it is /teams/top) and its hero with an item."""
    await session.exec(text("DELETE FROM hero"))  # type: ignore[call-overload]  (this test's transaction only)
    team = await make_team(session)
    secret = unique("Secret-Identity")
    hero = await make_hero(session, team_id=team.id, secret_identity=secret, age=90)
    session.add(Item(name=unique("item"), hero_id=hero.id))  # type: ignore[arg-type]
    await flush(session)
    return team.id, hero.id, secret  # type: ignore[return-value]


def hero_reads(team_id: int, hero_id: int) -> list[tuple[str, dict[str, str]]]:
    return [
        (f"{API}/heroes", {}),
        (f"{API}/heroes/{hero_id}", {}),
        (f"{API}/teams/top", {}),
        (f"{API}/teams/{team_id}", {"include": "heroes"}),
        (f"{API}/teams/{team_id}", {"include": "heroes.items"}),
    ]


@pytest.mark.parametrize("viewer", VIEWERS)
async def test_secret_identities_are_for_admins_only_on_every_hero_read(
    client: AsyncClient, session: AsyncSession, login: Login, viewer: str
) -> None:
    team_id, hero_id, secret = await a_team_with_a_secret(session)
    headers = await headers_of(login, viewer)
    for url, params in hero_reads(team_id, hero_id):
        response = await client.get(url, params=params, headers=headers)
        body = ok(response)
        assert hero_id in {hero["id"] for hero in _heroes_in(body)}, (url, body)
        if viewer == "admin":
            assert {hero["secret_identity"] for hero in _heroes_in(body)} == {secret}, url
        else:
            assert "secret_identity" not in keys_everywhere(body), (url, response.text)
            assert secret not in response.text, url


def _heroes_in(body: Any) -> list[dict[str, Any]]:
    if isinstance(body, list):
        return body
    if "items" in body:
        return list(body["items"])
    if "heroes" in body:
        return list(body["heroes"])
    return [body]


@pytest.mark.parametrize("viewer", VIEWERS)
async def test_the_team_document_leaves_the_secret_identity_out_in_sql_in_one_statement(
    client: AsyncClient, session: AsyncSession, login: Login, statements: StatementLog, viewer: str
) -> None:
    team_id, _, secret = await a_team_with_a_secret(session)
    headers = await headers_of(login, viewer)
    with statements.record():
        response = await client.get(f"{API}/teams/{team_id}", params={"include": "heroes.items"}, headers=headers)
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    [document] = [s for s in statements.statements if "json_build_object" in s]  # still ONE statement
    callers = [s for s in statements.statements if s is not document]
    assert len(callers) == (0 if viewer == "anonymous" else 1)  # the caller, read for a token only
    if viewer == "admin":
        assert "secret_identity" in document and response.json()["heroes"][0]["secret_identity"] == secret
    else:
        assert "secret_identity" not in document, document  # never selected, not stripped afterwards
        assert list(response.json()["heroes"][0]) == ["name", "age", "power_level", "id", "team_id", "items"]


# --- transfers: who asked, with which key ----------------------------------------------------


@pytest.mark.parametrize("viewer", VIEWERS)
async def test_who_requested_a_transfer_and_its_key_are_for_admins_only(
    client: AsyncClient, session: AsyncSession, login: Login, viewer: str
) -> None:
    requester: SignedIn = await login(Role.admin)
    hero = await make_hero(session)
    key = f"{requester.id}:{unique('their-idempotency-key')}"
    session.add(
        TransferLog(
            hero_id=hero.id,  # type: ignore[arg-type]
            to_team_id=None,
            transfer_date=datetime(2026, 1, 1, tzinfo=UTC),
            requested_by_id=requester.id,
            idempotency_key=key,
        )
    )
    await flush(session)
    response = await client.get(f"{API}/heroes/{hero.id}/transfers", headers=await headers_of(login, viewer))
    [log] = ok(response)["items"]
    assert log["hero_id"] == hero.id
    if viewer == "admin":
        assert (log["requested_by_id"], log["idempotency_key"]) == (requester.id, key)
    else:
        assert {"requested_by_id", "idempotency_key"} & set(log) == set(), response.text
        assert key not in response.text


# --- the documented shapes --------------------------------------------------------------------


PUBLIC_SCHEMAS = {
    "StudentPublic": {"email"},
    "CourseEnrollmentPublic": {"grade"},
    "StudentEnrollmentPublic": {"grade"},
    "HeroPublic": {"secret_identity"},
    "HeroInTeam": {"secret_identity"},
    "TransferLogPublic": {"requested_by_id", "idempotency_key"},
}
# Each public read: (path, the public schema it answers, the admin's); both are documented.
READS = [
    ("/api/v1/students/{student_id}", "StudentPublic", "StudentRead"),
    ("/api/v1/students/{student_id}/courses", "Page_CourseEnrollmentPublic_", "Page_CourseEnrollment_"),
    ("/api/v1/courses/{course_id}/students", "Page_StudentEnrollmentPublic_", "Page_StudentEnrollment_"),
    ("/api/v1/heroes", "Page_HeroPublic_", "Page_HeroRead_"),
    ("/api/v1/heroes/{hero_id}", "HeroPublic", "HeroRead"),
    ("/api/v1/teams/top", "TeamHeroesPage_HeroPublic_", "TeamHeroesPage_HeroRead_"),
    ("/api/v1/teams/{team_id}", "TeamDetail", "TeamDetailAdmin"),
    ("/api/v1/heroes/{hero_id}/transfers", "Page_TransferLogPublic_", "Page_TransferLogRead_"),
]


def test_openapi_documents_the_public_shapes_without_the_private_fields_and_both_shapes_per_read(
    app: FastAPI,
) -> None:
    document = app.openapi()
    schemas = document["components"]["schemas"]
    for name, private in PUBLIC_SCHEMAS.items():
        assert private & set(schemas[name]["properties"]) == set(), name
    assert "/HeroInTeam'" in str(schemas["TeamDetail"]) and "/HeroInTeamAdmin'" in str(schemas["TeamDetailAdmin"])
    for path, public, admin in READS:
        success = str(document["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"])
        assert f"/{public}'" in success and f"/{admin}'" in success, (path, success)
        assert "401" in document["paths"][path]["get"]["responses"], path  # a bad token is refused


@pytest.mark.parametrize(
    "url", [f"{API}/heroes", f"{API}/heroes/1", f"{API}/teams/top", f"{API}/teams/1", f"{API}/students/1"]
)
async def test_a_bad_token_on_a_caller_aware_read_is_401_not_the_public_view(client: AsyncClient, url: str) -> None:
    response = await client.get(url, headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
