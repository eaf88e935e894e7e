"""services.api.route_gates: a request is matched against the routers that could serve its path
only, and the route that answers is the one it was without the gates."""

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import _IncludedRouter
from httpx import AsyncClient
from starlette.routing import Match
from starlette.types import Scope

from services.api import route_gates
from services.api.main import API_PREFIX


def included(app: FastAPI) -> list[_IncludedRouter]:
    return [route for route in app.router.routes if isinstance(route, _IncludedRouter)]


def test_every_included_router_is_gated_by_the_heads_of_its_routes(app: FastAPI) -> None:
    routers = included(app)
    assert len(routers) >= 10
    for router in routers:
        assert "gated_matches" in getattr(router.matches, "__qualname__", ""), router.original_router
        heads = route_gates.router_heads(router)
        assert heads and all(head.startswith("/") and "{" not in head for head in heads)


def test_a_literal_head_is_the_path_before_its_first_parameter() -> None:
    assert route_gates.literal_head("/api/v1/posts/{post_id}/comments") == "/api/v1/posts/"
    assert route_gates.literal_head("/api/v1/posts") == "/api/v1/posts"


async def test_a_request_asks_only_the_routers_that_could_serve_its_path(
    app: FastAPI, client: AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []
    for router in included(app):
        original, heads = router.original_router, route_gates.router_heads(router) or ()

        def recording(scope: Scope, *, original: Any = original, heads: tuple[str, ...] = heads) -> Any:
            asked.append(",".join(heads))
            return type(original).matches(original, scope)

        monkeypatch.setattr(original, "matches", recording)
    response = await client.get(f"{API_PREFIX}/posts/999999")
    assert response.status_code == 404
    assert response.json()["detail"]  # the posts route's own 404 (a missing post), not routing's
    # Only routers with a route under /api/v1/posts were asked (the posts module; the comments one,
    # whose routes are /api/v1/posts/{post_id}/comments); nothing else, whatever the order.
    assert asked, "no router was asked"
    assert all(any(head.startswith(f"{API_PREFIX}/posts") for head in heads.split(",")) for heads in asked), asked


def test_a_gate_answers_none_without_asking_for_other_paths() -> None:
    calls: list[Scope] = []

    def matches(scope: Scope) -> tuple[Match, Scope]:
        calls.append(scope)
        return Match.FULL, {}

    gate = route_gates.gated(matches, ("/api/v1/teams", "/api/v1/heroes/"))
    scope: dict[str, Any] = {"type": "http", "path": "/api/v1/posts/1", "root_path": ""}
    assert gate(scope) == (Match.NONE, {}) and calls == []
    assert gate({**scope, "path": "/api/v1/heroes/3"}) == (Match.FULL, {}) and len(calls) == 1
    # Behind a proxy's root_path, the path the routes see is the one without it.
    assert gate({**scope, "path": "/guildhall/api/v1/teams", "root_path": "/guildhall"})[0] == Match.FULL
    assert gate({"type": "websocket", "path": "/api/v1/teams", "root_path": ""}) == (Match.NONE, {})
