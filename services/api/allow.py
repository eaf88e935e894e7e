"""405 answers name every method the path allows, not only one route's.

Starlette answers a method a path does not take from the first route whose path matched, so
`DELETE /api/v1/posts` said `Allow: POST` though GET is allowed too (GET and POST are two
routes). The methods of each path are taken from the OpenAPI document, once; a path the document
leaves out (/ops, /metrics, the docs) keeps the Allow of the route Starlette matched.

HEAD is listed wherever GET is, and only there: services.api.head answers a HEAD as the path's GET
(FastAPI's APIRoute, unlike Starlette's Route, takes no HEAD of its own)."""

import re
from functools import cache

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from services.api.problems import problem_response

_PARAMETER = re.compile(r"(\{[^}]+\})")


@cache
def _methods_by_path(app: FastAPI) -> tuple[tuple[str, re.Pattern[str], frozenset[str]], ...]:
    table = []
    for template, operations in app.openapi()["paths"].items():
        parts = _PARAMETER.split(template)  # literal text and {parameters}, alternately
        pattern = re.compile("^" + "".join("[^/]+" if i % 2 else re.escape(part) for i, part in enumerate(parts)) + "$")
        table.append((template, pattern, with_head({method.upper() for method in operations})))
    return tuple(table)


def with_head(methods: set[str] | frozenset[str]) -> frozenset[str]:
    """The methods with HEAD added where GET is among them (services.api.head answers it there)."""
    return frozenset(methods | {"HEAD"}) if "GET" in methods else frozenset(methods)


def allowed_methods(app: FastAPI, path: str) -> frozenset[str]:
    """The methods of the path's routes: a literal path's own (`/users/me` is not
    `/users/{user_id}`), else every parameterized template's that matches."""
    table = _methods_by_path(app)
    for template, _, methods in table:
        if template == path:
            return methods
    found: set[str] = set()
    for _, pattern, methods in table:
        if pattern.match(path):
            found |= methods
    return frozenset(found)


async def on_method_not_allowed(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    methods = allowed_methods(request.app, request.url.path)
    if not methods:  # not in the OpenAPI document: the matched route's own (an APIRoute's lack HEAD)
        listed = (error.headers or {}).get("Allow", "")
        methods = with_head({method.strip().upper() for method in listed.split(",") if method.strip()})
    allow = ", ".join(sorted(methods))
    return problem_response(405, "Method Not Allowed", headers={"Allow": allow})


def install(app: FastAPI) -> None:
    # A status-code handler: Starlette consults these before the HTTPException handler.
    app.add_exception_handler(405, on_method_not_allowed)
