"""The OpenAPI document is one people and tools can use (issue #19): every operation says what it
does, errors are declared as what is sent (the Problem under `application/problem+json`), security
says which reads take a token without needing one, no operation documents a status it cannot
answer, and the quickstart's operations carry examples that the API accepts.

tests/api/test_openapi.py holds the rest: typed success responses, problem-shaped errors, 503s.
"""

import json
import re
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts

from services.api.deps import get_current_user, get_optional_user
from services.api.problems import PROBLEM_JSON
from shared.blog.schemas import CommentCreate, PostCreate
from shared.heroes.schemas import TransferRequest
from shared.settings import Settings

PROBLEM = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
SCHEME = "OAuth2PasswordBearer"

Operation = tuple[str, str, dict[str, Any]]


def operations(document: dict[str, Any]) -> Iterator[Operation]:
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield method, path, operation


def routes(app: FastAPI) -> dict[tuple[str, str], RouteContext]:
    """The app's routes by (method, path) as its OpenAPI document sees them: with their routers'
    prefixes and dependencies."""
    return {
        (method.lower(), route.path): route
        for route in iter_route_contexts(app.routes)
        if isinstance(route.original_route, APIRoute) and route.include_in_schema
        for method in route.methods
    }


# --- 1. summaries and descriptions -----------------------------------------------------------


def test_every_operation_has_a_written_summary_and_a_description(app: FastAPI) -> None:
    by_operation = routes(app)
    found = list(operations(app.openapi()))
    assert len(found) == len(by_operation) >= 60
    for method, path, operation in found:
        route = by_operation[method, path]
        default = route.name.replace("_", " ").title()  # what FastAPI makes of the function's name
        assert operation.get("summary") and operation["summary"] != default, f"{method} {path}: no summary"
        assert len(operation.get("description", "")) >= 20, f"{method} {path}: no description"


def descriptions(node: Any, where: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "description" and isinstance(value, str):
                yield where, value
            else:
                yield from descriptions(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from descriptions(value, f"{where}/{index}")


CONSTANT = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")


def test_no_description_names_an_internal_constant(app: FastAPI) -> None:
    """An API reader cannot look up `JOB_RECORD_RETENTION_DAYS`; descriptions give the value. The
    server's settings (environment variables, in the README) may be named."""
    settings = {name.upper() for name in Settings.model_fields}
    found = list(descriptions(app.openapi()))
    assert len(found) > 200
    leaks = [(where, name) for where, text in found for name in CONSTANT.findall(text) if name not in settings]
    assert leaks == []


def test_the_request_bodies_describe_their_fields(app: FastAPI) -> None:
    """Every field of every JSON request body in the shared schemas has a description (the bulk job
    bodies' models, shared/*/bulk.py, aside)."""
    document = app.openapi()
    schemas = document["components"]["schemas"]
    bodies = {
        content["schema"]["$ref"].rsplit("/", 1)[1]
        for _, _, operation in operations(document)
        for content in operation.get("requestBody", {}).get("content", {}).values()
    }
    undescribed = {
        (name, field)
        for name in bodies
        if not name.startswith(("Bulk", "Body_"))
        for field, schema in schemas[name].get("properties", {}).items()
        if not schema.get("description")
    }
    assert len(bodies) >= 25 and undescribed == set()


# --- 2. problem+json -------------------------------------------------------------------------


def test_every_error_is_the_problem_schema_under_problem_json(app: FastAPI) -> None:
    document = app.openapi()
    checked = 0
    for method, path, operation in operations(document):
        if not path.startswith("/api/v1/"):
            continue  # /readyz's 503 is its own JSON (which probe failed), not a problem
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")):
                assert response.get("content") == PROBLEM, f"{method} {path} {status}: {response}"
                checked += 1
    assert checked > 300
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert set(schemas["Problem"]["properties"]) == {
        "type",
        "title",
        "status",
        "detail",
        "rule",
        "errors",
        "error_count",
    }


# --- 3. security -----------------------------------------------------------------------------


def calls(dependant: Dependant) -> Iterator[Any]:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from calls(dependency)


def test_public_reads_take_a_token_optionally_and_writes_require_one(app: FastAPI) -> None:
    """Read from the dependencies: a route with the optional caller (services.api.deps.OptionalUser)
    and not the required one works anonymously and shows a signed-in caller more: its security is
    the scheme or nothing. One that needs a caller requires the scheme. One with neither reads no
    token at all (GET /teams, /categories/tree: the same answer for everyone): no security."""
    by_operation = routes(app)
    optional = []
    for method, path, operation in operations(app.openapi()):
        found = set(calls(by_operation[method, path].dependant))
        security = operation.get("security")
        if get_current_user in found:
            assert security == [{SCHEME: []}], (method, path, security)
        elif get_optional_user in found:
            assert security is not None and len(security) == 2, (method, path, security)
            assert {} in security and {SCHEME: []} in security, (method, path, security)
            optional.append(f"{method.upper()} {path}")
        else:
            assert security is None, (method, path, security)
    assert {
        "GET /api/v1/posts",
        "GET /api/v1/posts/{post_id}",
        "GET /api/v1/heroes",
        "GET /api/v1/teams/{team_id}",
        "GET /api/v1/articles",
        "GET /api/v1/tags/{name}",
    } <= set(optional)


# --- 4. impossible statuses ------------------------------------------------------------------

BODY_STATUSES = {"400", "413", "415"}


def impossible_statuses(document: dict[str, Any]) -> list[str]:
    """What no request that follows the document can get, by these rules:

    - 400, 413, 415 (the body cannot be decoded, is too large, or of the wrong media type): only
      on an operation with a request body; a GET or DELETE here has none.
    - 401: only on an operation with security (required or optional: a bad token is a 401 either
      way), and on the OAuth2 password flow's token URL, whose 401 is wrong credentials.
    - 403: only on an operation with security: no caller, no role to lack.
    - 404: only on an operation with a path parameter or a request body: something it names must
      exist (a body's `category_id`, say); a bare list or summary is never "not found".
    - 409: never on GET or HEAD: a read changes nothing, so it conflicts with nothing.
    - 422: only on an operation with parameters or a request body: nothing else can be invalid.
    - 201 and 202: never on GET or HEAD: a read creates nothing and starts nothing.
    - a GET or HEAD has no request body.
    """
    token_urls = {
        flow["tokenUrl"]
        for scheme in document.get("components", {}).get("securitySchemes", {}).values()
        for flow in scheme.get("flows", {}).values()
        if "tokenUrl" in flow
    }
    found = []
    for method, path, operation in operations(document):
        statuses = set(operation.get("responses", {}))
        has_body = "requestBody" in operation
        parameters = operation.get("parameters", [])
        secured = bool(operation.get("security"))
        reading = method in ("get", "head")
        rules = {
            "a body status without a body": statuses & BODY_STATUSES if not has_body else set(),
            "401 without security": {"401"} & statuses if not secured and path not in token_urls else set(),
            "403 without security": {"403"} & statuses if not secured else set(),
            "404 with nothing to look up": (
                {"404"} & statuses if not has_body and not any(p["in"] == "path" for p in parameters) else set()
            ),
            "409 on a read": {"409"} & statuses if reading else set(),
            "422 without input": {"422"} & statuses if not has_body and not parameters else set(),
            "201/202 on a read": {"201", "202"} & statuses if reading else set(),
            "a body on a read": {"requestBody"} if reading and has_body else set(),
        }
        found += [f"{method.upper()} {path}: {rule} ({sorted(hits)})" for rule, hits in rules.items() if hits]
    return found


def test_no_operation_documents_a_status_it_cannot_answer(app: FastAPI) -> None:
    assert impossible_statuses(app.openapi()) == []


def test_the_walker_finds_the_impossible_statuses_it_is_meant_to() -> None:
    """The faults the document used to have (a GET documenting 413; 422 and 403 on GET /users/me;
    422 on POST /auth/logout), and the other rules, on a made-up document."""
    problem = {"description": "x"}

    def operation(*statuses: str, **fields: Any) -> dict[str, Any]:
        return {"responses": {"200": problem, **{status: problem for status in statuses}}, **fields}

    secured = {"security": [{SCHEME: []}]}
    path_id = {"parameters": [{"name": "id", "in": "path"}]}
    document = {
        "components": {"securitySchemes": {SCHEME: {"flows": {"password": {"tokenUrl": "/token"}}}}},
        "paths": {
            "/token": {"post": operation("401", "422", requestBody={})},  # fine: the login itself
            "/jobs/{id}": {"get": operation("413", "404", **secured, **path_id)},
            "/me": {"get": operation("403", "422"), "post": operation("401", "422", **secured)},
            "/things": {"get": operation("404", "409", "201"), "delete": operation("400", **secured, **path_id)},
            "/search": {"get": operation(requestBody={})},
        },
    }
    assert impossible_statuses(document) == [
        "GET /jobs/{id}: a body status without a body (['413'])",
        "GET /me: 403 without security (['403'])",
        "GET /me: 422 without input (['422'])",
        "POST /me: 422 without input (['422'])",
        "GET /things: 404 with nothing to look up (['404'])",
        "GET /things: 409 on a read (['409'])",
        "GET /things: 201/202 on a read (['201'])",
        "DELETE /things: a body status without a body (['400'])",
        "GET /search: a body on a read (['requestBody'])",
    ]


# --- 5. examples -----------------------------------------------------------------------------


def examples_of(operation: dict[str, Any], media_type: str = "application/json") -> list[Any]:
    content = operation["requestBody"]["content"][media_type]
    return [example["value"] for example in content.get("examples", {}).values()]


def test_the_quickstart_operations_carry_examples_the_api_accepts(app: FastAPI) -> None:
    paths = app.openapi()["paths"]
    [login] = examples_of(paths["/api/v1/auth/token"]["post"], "application/x-www-form-urlencoded")
    assert set(login) == {"username", "password"}

    [q] = [p for p in paths["/api/v1/posts"]["get"]["parameters"] if p["name"] == "q"]
    assert [example["value"] for example in q["examples"].values()] == ["async"]

    for path, model in (
        ("/api/v1/posts", PostCreate),
        ("/api/v1/posts/{post_id}/comments", CommentCreate),
        ("/api/v1/heroes/{hero_id}/transfer", TransferRequest),
    ):
        values = examples_of(paths[path]["post"])
        assert values, path
        for value in values:
            model.model_validate_json(json.dumps(value))  # valid as sent, strict mode included
