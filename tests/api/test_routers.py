"""The app serves every routes module's router (found, not listed), and their order is free: no
route of one module shadows a route of another."""

import re
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import compile_path

from services.api.main import API_PREFIX
from services.api.routes import routers

# Values a path parameter could be sent as, literal segments of other routes among them.
SAMPLES = ("1", "me", "top", "batch", "tree", "x")


@dataclass(frozen=True)
class Served:
    module: str
    path: str  # as the app serves it: with the API prefix, unless the module is served at the root
    methods: frozenset[str]
    in_schema: bool

    def matches(self, concrete: str) -> bool:
        regex, _, _ = compile_path(self.path)
        return regex.match(concrete) is not None


def served_routes() -> list[Served]:
    found = []
    for door in routers():
        for route in door.router.routes:
            assert isinstance(route, APIRoute), f"{door.module}: {route!r} is not an API route"
            path = route.path if door.at_root else API_PREFIX + route.path
            found.append(Served(door.module, path, frozenset(route.methods), route.include_in_schema))
    return found


def test_every_routes_module_is_served_at_its_place(app: FastAPI) -> None:
    routes = served_routes()
    assert {"auth", "health", "heroes", "jobs", "ops", "posts"} <= {route.module for route in routes}
    document = {(method.upper(), path) for path, item in app.openapi()["paths"].items() for method in item}
    for route in routes:
        if route.in_schema:
            for method in route.methods - {"HEAD"}:
                assert (method, route.path) in document, f"{route.module}: {method} {route.path} is not served"
    assert {route.module for route in routes if not route.path.startswith(API_PREFIX)} == {"health"}


def test_no_route_shadows_a_route_of_another_module() -> None:
    routes = served_routes()
    shadowed = [
        f"{first.module} {first.path} answers {second.module} {concrete}"
        for first in routes
        for second in routes
        if first.module != second.module and first.methods & second.methods
        for concrete in {re.sub(r"\{[^}]+\}", sample, second.path) for sample in SAMPLES}
        if first.matches(concrete)
    ]
    assert shadowed == []


def test_the_check_sees_a_shadowing_route() -> None:
    # The check itself: /teams/{team_id} would answer /teams/top if both were of different modules.
    anything = Served("a", "/api/v1/teams/{team_id}", frozenset({"GET"}), True)
    assert anything.matches(re.sub(r"\{[^}]+\}", "top", "/api/v1/teams/top"))
