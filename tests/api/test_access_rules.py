"""Every write route of the app has an access rule, and keeps it.

Each route's rule is read from its dependencies, as it states it (CONTRIBUTING.md, "Adding a
domain"): `require_role(...)` (AdminUser, ModeratorUser) admits the roles it names; a route that
needs a signed-in caller (CurrentUser) and changes or deletes what its path names (PATCH, PUT,
DELETE of `.../{id}`) leaves the owner check to its service; any other signed-in route is for any
user; a route with neither is public, which a write may be only when it is listed in PUBLIC_WRITES.
Each rule is then proven: no token -> 401; a role (or a non-owner) it does not allow -> 403.
"""

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from httpx import AsyncClient
from sqlmodel.ext.asyncio.session import AsyncSession

from services.api.deps import get_current_user, require_role
from services.api.main import API_PREFIX
from services.api.routes import routers
from shared.db import flush
from shared.models.base import now_utc
from shared.models.blog import Comment, ModerationState, Post
from shared.models.tagging import Article, Image
from shared.models.users import Role
from tests.api.conftest import Caller

Kind = Literal["public", "any_user", "owner", "moderator", "admin"]

WRITE_METHODS = {"post", "put", "patch", "delete"}
# Writes anyone may send: a request without a token is their point.
PUBLIC_WRITES = {"POST /api/v1/auth/token": "logging in is how a caller gets a token"}


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    """Every callable in the dependency closure of `dependant` (its sub-dependencies, recursively)."""
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _calls(dependency)


def _roles_admitted(call: Callable[..., Any]) -> frozenset[Role] | None:
    """The roles a `require_role(...)` dependency admits (read from its closure), None for any
    other callable."""
    if getattr(call, "__qualname__", None) != f"{require_role.__qualname__}.<locals>.dependency":
        return None
    allowed = inspect.getclosurevars(call).nonlocals["allowed"]
    return frozenset(Role(role) for role in allowed)


def rule_of(method: str, path: str, dependant: Dependant) -> Kind:
    """The access rule the route states through its dependencies (see the module's docstring)."""
    calls = list(_calls(dependant))
    admitted = [roles for call in calls if (roles := _roles_admitted(call)) is not None]
    if admitted:
        roles = frozenset.intersection(*admitted)  # each role dependency must pass
        if roles == {Role.admin}:
            return "admin"
        if roles == {Role.moderator, Role.admin}:
            return "moderator"
        raise AssertionError(f"{method} {path}: no rule kind for the roles {sorted(roles)}")
    if get_current_user in calls:
        changes_what_its_path_names = (method in ("PATCH", "PUT", "DELETE") and path.endswith("}")) or (
            method == "PUT" and "{" in path
        )
        return "owner" if changes_what_its_path_names else "any_user"
    return "public"


def _write_routes() -> Iterator[tuple[str, Dependant]]:
    for door in routers():
        for route in door.router.routes:
            assert isinstance(route, APIRoute)
            path = route.path if door.at_root else API_PREFIX + route.path
            for method in sorted(route.methods):
                if method.lower() in WRITE_METHODS:
                    yield f"{method} {path}", route.dependant


ACCESS: dict[str, Kind] = {route: rule_of(*route.split(" ", 1), dependant) for route, dependant in _write_routes()}


def write_routes(app: FastAPI) -> set[str]:
    return {
        f"{method.upper()} {path}"
        for path, operations in app.openapi()["paths"].items()
        for method in operations
        if method in WRITE_METHODS
    }


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


def sample_body(app: FastAPI, method: str, path: str) -> dict[str, Any]:
    """The smallest JSON body the route accepts (its required fields, each the least it may be),
    from its OpenAPI schema: an owner check runs in the service, after the body is parsed."""
    document = app.openapi()
    operation = document["paths"][path][method.lower()]
    schema = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    if schema is None:
        return {}
    value = _least(schema, document["components"]["schemas"])
    assert isinstance(value, dict), f"{method} {path}: a body that is not an object"
    return value


def _least(schema: dict[str, Any], components: dict[str, Any]) -> Any:
    if "$ref" in schema:
        return _least(components[schema["$ref"].rsplit("/", 1)[-1]], components)
    if "anyOf" in schema:
        return _least(next(option for option in schema["anyOf"] if option.get("type") != "null"), components)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        return {name: _least(properties[name], components) for name in schema.get("required", [])}
    if kind == "array":
        return [_least(schema["items"], components) for _ in range(schema.get("minItems", 0))]
    if kind == "string":
        return schema["enum"][0] if "enum" in schema else "x" * max(1, schema.get("minLength", 1))
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "boolean":
        return False
    raise AssertionError(f"no sample for the schema {schema}")


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

    refused: list[Caller] = {
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
