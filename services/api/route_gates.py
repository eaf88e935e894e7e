"""A literal-prefix gate in front of each included router, so a request is matched against the
routes of the routers that could serve its path only.

FastAPI (0.16x) keeps each `include_router` as one entry of the app's routes, and matches a
request by asking each entry in turn; an entry answers by trying every route of its router (a
regular expression each), and the router that matched tries its routes once more to pick the
route. A read of a post tried about 50 expressions before its own (a fifth of the request's CPU in
the profile, docs/benchmarks.md, Reads). Every route's expression starts with its path's literal
head (the part before its first `{parameter}`), so a router none of whose heads starts the
request's path cannot match it: the gate answers NONE for it with one `str.startswith`, and asks
the router as before otherwise. Which route answers never changes: the gate only skips routers
that would have answered NONE, the order of the rest is kept (and tests/api/test_routers.py
checks no route of one module shadows another's, so the order decides nothing anyway).

The router's own second pass is left as it is: a module has at most a dozen routes.
"""

from collections.abc import Callable

from fastapi import FastAPI
from fastapi.routing import APIRoute, _IncludedRouter
from starlette._utils import get_route_path
from starlette.routing import Match
from starlette.types import Scope

Matcher = Callable[[Scope], tuple[Match, Scope]]


def literal_head(path: str) -> str:
    """The part of a route's path every path it matches starts with."""
    return path.partition("{")[0]


def router_heads(included: _IncludedRouter) -> tuple[str, ...] | None:
    """The literal heads of an included router's routes, as the app serves them (with the include
    prefix); None if it holds anything but plain API routes (a nested router, a mount), which it
    is then left to match in full."""
    prefix = included.include_context.prefix
    routes = included.original_router.routes
    if not routes or not all(isinstance(route, APIRoute) for route in routes):
        return None
    return tuple(sorted({literal_head(prefix + route.path) for route in routes if isinstance(route, APIRoute)}))


def gated(matches: Matcher, heads: tuple[str, ...]) -> Matcher:
    def gated_matches(scope: Scope) -> tuple[Match, Scope]:
        # The path the routes' expressions see (without the app's root_path, as Starlette cuts it).
        if scope["type"] != "http" or not get_route_path(scope).startswith(heads):
            return Match.NONE, {}
        return matches(scope)

    return gated_matches


def install(app: FastAPI) -> int:
    """Gate every included router of `app` (after all are included); how many were gated."""
    count = 0
    for route in app.router.routes:
        if isinstance(route, _IncludedRouter) and (heads := router_heads(route)) is not None:
            # An instance attribute: the gate wraps this inclusion's own bound method.
            route.matches = gated(route.matches, heads)  # type: ignore[method-assign,assignment]  # the gate wraps it
            count += 1
    return count
