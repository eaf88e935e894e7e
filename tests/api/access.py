"""Each route's access rule, read from its dependencies as it states them (CONTRIBUTING.md, "Adding
a domain"), for the tests that prove the rules (test_access_rules.py) and document them
(test_openapi.py):

- `require_role(...)` (AdminUser, OperatorUser, ModeratorUser) admits the roles it names;
- a route that needs a signed-in caller (CurrentUser) and changes or deletes what its path names
  (PATCH, PUT, DELETE of a path with a parameter) leaves the owner check to its service: "owner";
- any other signed-in route is for any user;
- a route with neither is public, which a write may be only when PUBLIC_WRITES says why.

OPERATOR says what an operator gets from every route (reads included), by the route's rule: the
ops views ("operator") are theirs; what needs an owner, a moderator or an admin (the ops actions
included) is refused; everything else they get as an author who owns nothing there would.
"""

import inspect
from collections.abc import Callable, Iterator
from typing import Any, Literal

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from services.api.deps import get_current_user, require_role
from services.api.main import API_PREFIX
from services.api.routes import routers
from shared.models.users import Role

Kind = Literal["public", "any_user", "owner", "moderator", "operator", "admin"]

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
        if roles == {Role.operator, Role.admin}:
            return "operator"
        raise AssertionError(f"{method} {path}: no rule kind for the roles {sorted(roles)}")
    if get_current_user in calls:
        changes_what_its_path_names = (method in ("PATCH", "PUT", "DELETE") and path.endswith("}")) or (
            method == "PUT" and "{" in path
        )
        return "owner" if changes_what_its_path_names else "any_user"
    return "public"


def _routes() -> Iterator[tuple[str, Dependant]]:
    for door in routers():
        for route in door.router.routes:
            assert isinstance(route, APIRoute)
            path = route.path if door.at_root else API_PREFIX + route.path
            for method in sorted(route.methods - {"HEAD"}):  # a HEAD answers as its GET does
                yield f"{method} {path}", route.dependant


EVERY_ROUTE: dict[str, Kind] = {route: rule_of(*route.split(" ", 1), dependant) for route, dependant in _routes()}
ACCESS: dict[str, Kind] = {
    route: kind for route, kind in EVERY_ROUTE.items() if route.split(" ", 1)[0].lower() in WRITE_METHODS
}

OperatorGets = Literal["admitted", "refused", "as_author"]
# One entry per kind, so a new kind cannot leave a route without an expectation for an operator.
OPERATOR_BY_KIND: dict[Kind, OperatorGets] = {
    "operator": "admitted",  # where an author is refused
    "admin": "refused",  # 403 naming the admin role: the ops actions, users, bulk jobs, domain writes
    "moderator": "refused",
    "owner": "refused",  # an operator owns nothing the world's paths name
    "any_user": "as_author",
    "public": "as_author",  # no secret identity, grade, email or draft an author is not shown
}
OPERATOR: dict[str, OperatorGets] = {route: OPERATOR_BY_KIND[kind] for route, kind in EVERY_ROUTE.items()}


def write_routes(app: FastAPI) -> set[str]:
    return {
        f"{method.upper()} {path}"
        for path, operations in app.openapi()["paths"].items()
        for method in operations
        if method in WRITE_METHODS
    }


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
