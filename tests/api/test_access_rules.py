"""Every write route of the app has an access rule, and keeps it.

Each route's rule is read from its dependencies (tests/api/access.py). Each rule is then proven:
no token -> 401; a role (or a non-owner) it does not allow -> 403. And for every route, reads
included, what an operator gets (access.OPERATOR): the ops views, and otherwise an author's lot.
"""

from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import flush
from shared.models.base import now_utc
from shared.models.blog import Comment, ModerationState, Post
from shared.models.courses import Course, Enrollment, Semester, Student
from shared.models.tagging import Article, Image
from shared.models.users import Role
from tests.api.access import ACCESS, EVERY_ROUTE, OPERATOR, PUBLIC_WRITES, sample_body, write_routes
from tests.api.conftest import SignedIn
from tests.shared.factories import make_hero, make_team, unique


def test_every_write_route_has_a_rule(app: FastAPI) -> None:
    routes = write_routes(app)
    assert routes - ACCESS.keys() == set(), "write routes of the app the routes modules do not hold"
    assert ACCESS.keys() - routes == set(), "rules for routes the app does not serve"
    public = {route for route, kind in ACCESS.items() if kind == "public"}
    assert public == PUBLIC_WRITES.keys(), "a write route without an access rule in its dependencies"


def test_the_rules_read_from_the_dependencies_are_the_ones_meant() -> None:
    # A sample of each kind, so a change in how rules are read cannot make every route public.
    assert ACCESS["POST /api/v1/users"] == "admin"
    assert ACCESS["PATCH /api/v1/comments/{comment_id}/moderation"] == "moderator"
    assert ACCESS["PATCH /api/v1/posts/{post_id}"] == "owner"
    assert ACCESS["PUT /api/v1/articles/{article_id}/tags"] == "owner"
    assert ACCESS["POST /api/v1/posts/{post_id}/comments"] == "any_user"
    assert ACCESS["POST /api/v1/users/me/password"] == "any_user"
    assert ACCESS["POST /api/v1/jobs/heroes/bulk-update"] == "admin"
    assert ACCESS["POST /api/v1/auth/token"] == "public"
    assert EVERY_ROUTE["GET /api/v1/ops/queues"] == EVERY_ROUTE["GET /api/v1/ops/jobs/{job_id}"] == "operator"
    assert EVERY_ROUTE["GET /api/v1/users/{user_id}"] == EVERY_ROUTE["GET /api/v1/jobs/{job_id}"] == "admin"
    assert EVERY_ROUTE["GET /api/v1/posts"] == "public" and EVERY_ROUTE["GET /api/v1/users/me"] == "any_user"
    for action in ("jobs/{job_id}/retry", "jobs/{job_id}/abort", "results/purge"):
        assert OPERATOR[f"POST /api/v1/ops/{action}"] == "refused"
    for action in ("jobs/actions", "dead-letters/actions", "dead-letters/{kind}/{letter_id}/requeue"):
        assert ACCESS[f"POST /api/v1/ops/{action}"] == "admin" and OPERATOR[f"POST /api/v1/ops/{action}"] == "refused"
    assert EVERY_ROUTE["GET /api/v1/ops/dead-letters"] == "operator"
    assert OPERATOR["GET /api/v1/ops/queues"] == "admitted" and OPERATOR["PATCH /api/v1/users/{user_id}"] == "refused"
    assert OPERATOR.keys() == EVERY_ROUTE.keys() and ACCESS.keys() < EVERY_ROUTE.keys()


@dataclass
class World:
    owner: SignedIn
    other_author: SignedIn
    moderator: SignedIn
    operator: SignedIn
    ids: dict[str, int]

    def path(self, template: str) -> str:
        return template.format(**{name: self.ids.get(name, 1) for name in _params(template)})


def _params(template: str) -> list[str]:
    return [part[1:-1] for part in template.split("/") if part.startswith("{")]


@pytest.fixture
async def world(session: AsyncSession, login) -> World:  # type: ignore[no-untyped-def]
    owner: SignedIn = await login(Role.author)
    post = Post(title="Owned", content="...", author_id=owner.id, status="published")
    article = Article(title="Owned", content="...", author_id=owner.id, status="published")
    image = Image(filename="owned.png", alt_text="owned", author_id=owner.id)
    session.add_all([post, article, image])
    await flush(session)
    # Approved, so others may see it: what refuses them is ownership (403), not visibility (404).
    comment = Comment(
        content="owned",
        post_id=post.id,  # type: ignore[arg-type]
        author_id=owner.id,
        moderation_state=ModerationState.approved,
        moderated_at=now_utc(),
    )
    session.add(comment)
    await flush(session)
    # What admins alone are shown, for the reads an operator must get as an author does: a hero's
    # secret identity, a student's email and grade.
    team = await make_team(session)
    hero = await make_hero(session, team_id=team.id)
    student = Student(name=unique("student"), email=f"{unique('student')}@example.com")
    course = Course(name="Access", code=unique("AC"))
    session.add_all([student, course])
    await flush(session)
    session.add(Enrollment(student_id=student.id, course_id=course.id, grade="B+", semester=Semester.fall, year=2026))  # type: ignore[arg-type]
    await flush(session)
    ids = {
        "post_id": post.id,
        "article_id": article.id,
        "image_id": image.id,
        "comment_id": comment.id,
        "hero_id": hero.id,
        "team_id": team.id,
        "student_id": student.id,
        "course_id": course.id,
        "user_id": owner.id,
    }
    others = [await login(role) for role in (Role.author, Role.moderator, Role.operator)]
    return World(owner, *others, ids)  # type: ignore[arg-type]


@pytest.mark.parametrize("route", sorted(ACCESS))
async def test_each_write_route_refuses_callers_its_rule_does_not_allow(
    app: FastAPI, client: AsyncClient, world: World, route: str
) -> None:
    kind = ACCESS[route]
    method, template = route.split(" ", 1)
    path = world.path(template)
    body = sample_body(app, method, template)

    anonymous = await client.request(method, path, json=body)
    if kind == "public":
        assert anonymous.status_code != 401
        return
    assert anonymous.status_code == 401, anonymous.text
    assert anonymous.headers["www-authenticate"] == "Bearer"

    refused: list[SignedIn] = {
        "any_user": [],
        "owner": [world.other_author, world.moderator, world.operator],
        "moderator": [world.other_author, world.operator],
        "admin": [world.other_author, world.moderator, world.operator],
    }[kind]
    for caller in refused:
        response = await client.request(method, path, json=body, headers=caller.headers)
        assert response.status_code == 403, f"{route} as {caller.user.role}: {response.status_code} {response.text}"
        assert response.json()["status"] == 403


# Reads whose answer is the caller's own: an operator's differs from an author's by who they are.
ABOUT_THE_CALLER = {"GET /api/v1/users/me"}


@pytest.mark.parametrize("route", sorted(OPERATOR))
async def test_an_operator_reads_the_ops_views_and_is_an_author_everywhere_else(
    app: FastAPI, client: AsyncClient, world: World, route: str
) -> None:
    method, template = route.split(" ", 1)
    path = world.path(template)
    body = sample_body(app, method, template) if method != "GET" else None
    # The author first: a write they may make (a post, a comment) leaves the operator the same answer.
    author = await client.request(method, path, json=body, headers=world.other_author.headers)
    operator = await client.request(method, path, json=body, headers=world.operator.headers)
    seen = f"{route}: author {author.status_code} {author.text[:200]}; operator {operator.status_code} {operator.text}"

    match OPERATOR[route]:
        case "admitted":
            assert author.status_code == 403, seen
            assert operator.status_code not in (401, 403), seen
        case "refused":
            assert author.status_code == operator.status_code == 403, seen
            assert operator.json()["detail"] == author.json()["detail"], seen  # the role or the owner it needs
        case "as_author":
            # Not 401/403 by role: a refusal here is the route's own (a wrong current password).
            assert operator.status_code == author.status_code != 401, seen
            if (method == "GET" and route not in ABOUT_THE_CALLER) or author.status_code >= 400:
                assert operator.json() == author.json(), seen


async def test_an_ops_action_refused_to_an_operator_names_the_role_it_needs(client: AsyncClient, world: World) -> None:
    for path in ("/api/v1/ops/jobs/x/retry", "/api/v1/ops/jobs/x/abort", "/api/v1/ops/results/purge"):
        response = await client.post(path, json={"status": "all"}, headers=world.operator.headers)
        assert response.status_code == 403 and response.json()["detail"] == "this needs the role admin", response.text


async def test_a_method_the_path_does_not_take_is_405_naming_every_method_it_does(client: AsyncClient) -> None:
    for method, path, allowed in (
        ("DELETE", "/api/v1/posts", "GET, HEAD, POST"),  # two routes: it said only POST
        ("PUT", "/api/v1/posts/1", "DELETE, GET, HEAD, PATCH"),
        ("PUT", "/api/v1/users/me", "GET, HEAD"),  # its own methods, not those of /users/{user_id}
    ):
        response = await client.request(method, path)
        assert response.status_code == 405, (method, path)
        assert response.headers["allow"] == allowed, (method, path, response.headers["allow"])
        assert response.headers["content-type"] == "application/problem+json"
