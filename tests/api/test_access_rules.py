"""Every write route of the app has an access rule, and keeps it.

Each route's rule is read from its dependencies (tests/api/access.py). Each rule is then proven:
no token -> 401; a role (or a non-owner) it does not allow -> 403.
"""

from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import flush
from shared.models.base import now_utc
from shared.models.blog import Comment, ModerationState, Post
from shared.models.tagging import Article, Image
from shared.models.users import Role
from tests.api.access import ACCESS, PUBLIC_WRITES, sample_body, write_routes
from tests.api.conftest import SignedIn


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


@dataclass
class World:
    owner: SignedIn
    other_author: SignedIn
    moderator: SignedIn
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
    ids = {"post_id": post.id, "article_id": article.id, "image_id": image.id, "comment_id": comment.id}
    return World(owner, await login(Role.author), await login(Role.moderator), ids)  # type: ignore[arg-type]


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
        "owner": [world.other_author, world.moderator],
        "moderator": [world.other_author],
        "admin": [world.other_author, world.moderator],
    }[kind]
    for caller in refused:
        response = await client.request(method, path, json=body, headers=caller.headers)
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
