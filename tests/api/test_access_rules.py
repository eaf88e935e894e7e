"""Every write route of the app has an access rule, and keeps it.

The route table is read from the app itself (its OpenAPI document), so a new write
route without an entry in ACCESS fails `test_every_write_route_has_a_rule`.
Each rule is then proven: no token -> 401; a role (or a non-owner) it does not allow -> 403.
"""

from dataclasses import dataclass, field
from typing import Any, Literal

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import flush
from shared.models.base import now_utc
from shared.models.blog import Comment, ModerationState, Post
from shared.models.tagging import Article, Image
from shared.models.users import Role
from tests.api.conftest import Caller

Kind = Literal["public", "any_user", "owner", "moderator", "admin"]


@dataclass(frozen=True)
class Rule:
    kind: Kind
    # A valid body: ownership is checked in the domain, after the body is parsed.
    body: dict[str, Any] = field(default_factory=dict)


ACCESS: dict[str, Rule] = {
    "POST /api/v1/auth/token": Rule("public"),
    "POST /api/v1/auth/logout": Rule("any_user"),
    "POST /api/v1/users": Rule("admin"),
    "POST /api/v1/users/me/password": Rule("any_user", {"current_password": "x", "new_password": "long enough 1"}),
    "PATCH /api/v1/users/{user_id}": Rule("admin", {"role": "author"}),
    "POST /api/v1/posts": Rule("any_user"),
    "PATCH /api/v1/posts/{post_id}": Rule("owner", {"title": "Not yours"}),
    "DELETE /api/v1/posts/{post_id}": Rule("owner"),
    "POST /api/v1/posts/{post_id}/comments": Rule("any_user"),
    "PATCH /api/v1/comments/{comment_id}/moderation": Rule("moderator"),
    "DELETE /api/v1/comments/{comment_id}": Rule("owner"),
    "PATCH /api/v1/comments/{comment_id}": Rule("owner", {"content": "Not yours"}),
    "POST /api/v1/categories": Rule("admin"),
    "PATCH /api/v1/categories/{category_id}": Rule("admin"),
    "POST /api/v1/products": Rule("admin"),
    "POST /api/v1/teams": Rule("admin"),
    "POST /api/v1/heroes": Rule("admin"),
    "POST /api/v1/heroes/batch": Rule("admin"),
    "PATCH /api/v1/heroes/{hero_id}": Rule("admin"),
    "DELETE /api/v1/heroes/{hero_id}": Rule("admin"),
    "POST /api/v1/heroes/{hero_id}/transfer": Rule("admin"),
    "POST /api/v1/students": Rule("admin"),
    "POST /api/v1/courses": Rule("admin"),
    "POST /api/v1/courses/{course_id}/enrollments": Rule("admin"),
    "PATCH /api/v1/courses/{course_id}/enrollments/{student_id}": Rule("admin"),
    "POST /api/v1/articles": Rule("any_user"),
    "PATCH /api/v1/articles/{article_id}": Rule("owner", {"title": "Not yours"}),
    "DELETE /api/v1/articles/{article_id}": Rule("owner"),
    "PUT /api/v1/articles/{article_id}/tags": Rule("owner", {"tags": ["mine"]}),
    "POST /api/v1/images": Rule("any_user"),
    "DELETE /api/v1/images/{image_id}": Rule("owner"),
    "PATCH /api/v1/images/{image_id}": Rule("owner", {"alt_text": "Not yours"}),
    "PUT /api/v1/images/{image_id}/tags": Rule("owner", {"tags": ["mine"]}),
    "POST /api/v1/jobs/heroes/bulk-update": Rule("admin"),
    "POST /api/v1/jobs/heroes/bulk-delete": Rule("admin"),
    "POST /api/v1/jobs/posts/bulk": Rule("admin"),
    "POST /api/v1/ops/jobs/{job_id}/retry": Rule("admin"),
    "POST /api/v1/ops/jobs/{job_id}/abort": Rule("admin"),
    "POST /api/v1/ops/results/purge": Rule("admin"),
}

WRITE_METHODS = {"post", "put", "patch", "delete"}


def write_routes(app: FastAPI) -> set[str]:
    return {
        f"{method.upper()} {path}"
        for path, operations in app.openapi()["paths"].items()
        for method in operations
        if method in WRITE_METHODS
    }


def test_every_write_route_has_a_rule(app: FastAPI) -> None:
    routes = write_routes(app)
    assert routes - ACCESS.keys() == set(), "write routes without an access rule in ACCESS"
    assert ACCESS.keys() - routes == set(), "rules for routes that no longer exist"


@dataclass
class World:
    owner: Caller
    other_author: Caller
    moderator: Caller
    ids: dict[str, int]

    def path(self, template: str) -> str:
        return template.format(**{name: self.ids.get(name, 1) for name in _params(template)})


def _params(template: str) -> list[str]:
    return [part[1:-1] for part in template.split("/") if part.startswith("{")]


@pytest.fixture
async def world(session: AsyncSession, login) -> World:  # type: ignore[no-untyped-def]
    owner: Caller = await login(Role.author)
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
    ids = {"post_id": post.id, "article_id": article.id, "image_id": image.id, "comment_id": comment.id}
    return World(owner, await login(Role.author), await login(Role.moderator), ids)  # type: ignore[arg-type]


@pytest.mark.parametrize("route", sorted(ACCESS))
async def test_each_write_route_refuses_callers_its_rule_does_not_allow(
    client: AsyncClient, world: World, route: str
) -> None:
    rule = ACCESS[route]
    method, template = route.split(" ", 1)
    path = world.path(template)

    anonymous = await client.request(method, path, json=rule.body)
    if rule.kind == "public":
        assert anonymous.status_code != 401
        return
    assert anonymous.status_code == 401, anonymous.text
    assert anonymous.headers["www-authenticate"] == "Bearer"

    refused: list[Caller] = {
        "any_user": [],
        "owner": [world.other_author, world.moderator],
        "moderator": [world.other_author],
        "admin": [world.other_author, world.moderator],
    }[rule.kind]
    for caller in refused:
        response = await client.request(method, path, json=rule.body, headers=caller.headers)
        assert response.status_code == 403, f"{route} as {caller.user.role}: {response.status_code} {response.text}"
        assert response.json()["status"] == 403


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
