"""Security headers on every response of the real app (errors, 500s and static files included), a
strict Content-Security-Policy on the ops dashboard, and the docs served only where they should be."""

import re

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Response

from services.api.main import STATIC_DIR, create_app
from shared.settings import get_settings

COMMON = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer"}
DOCS = ("/docs", "/redoc", "/openapi.json")


def assert_common_headers(response: Response) -> None:
    for name, value in COMMON.items():
        # Once each: the middleware appends, it must not be applied twice.
        assert response.headers.get_list(name) == [value], (response.request.url.path, name, response.headers)


def assert_strict_csp(response: Response) -> None:
    policy = response.headers["content-security-policy"]
    directives = {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}
    assert directives["default-src"] == ["'self'"], policy
    assert directives["frame-ancestors"] == ["'none'"], policy
    assert directives["object-src"] == ["'none'"] and directives["base-uri"] == ["'none'"], policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy and "*" not in policy, policy
    assert response.headers["x-frame-options"] == "DENY"


async def test_api_responses_and_errors_carry_the_headers(client: AsyncClient) -> None:
    responses = [
        await client.get("/healthz"),
        await client.get("/api/v1/no-such-thing"),  # 404 problem
        await client.post("/api/v1/heroes", json={"name": "x"}),  # 401 problem
        await client.delete("/healthz"),  # 405
        await client.get("/api/v1/heroes", params={"limit": "many"}),  # 422 problem
        await client.get("/healthz"),  # the same route again: headers not accumulated
    ]
    assert [response.status_code for response in responses] == [200, 404, 401, 405, 422, 200]
    for response in responses:
        assert_common_headers(response)
        assert "content-security-policy" not in response.headers  # API answers: the dashboard's alone


async def test_a_500_carries_the_headers(app: FastAPI) -> None:
    # Starlette answers 500s outside every add_middleware layer: the headers must still be there.
    async def explode() -> None:
        raise RuntimeError("boom")

    app.add_api_route("/test-explodes", explode)
    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/test-explodes")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert_common_headers(response)


async def test_the_dashboard_and_its_files_have_a_strict_csp(client: AsyncClient) -> None:
    files = sorted(path.name for path in STATIC_DIR.iterdir())
    # The page, its style, and its scripts (the board's own and each panel's), all served the same way.
    assert files == ["ops.css", "ops.html", "ops.js", "ops_bulk.js", "ops_control.js", "ops_history.js"]
    page = (STATIC_DIR / "ops.html").read_text()
    assert all(f'src="/ops/static/{name}"' in page for name in files if name.endswith(".js")), "a script not loaded"
    for path in ["/ops", *(f"/ops/static/{name}" for name in files), "/ops/static/missing.js"]:
        response = await client.get(path)
        assert response.status_code == (404 if path.endswith("missing.js") else 200), path
        assert_common_headers(response)
        assert_strict_csp(response)


def test_the_dashboard_page_has_nothing_inline() -> None:
    """What `default-src 'self'` without 'unsafe-inline' would block: inline scripts and styles,
    style and event-handler attributes, javascript: URLs."""
    page = (STATIC_DIR / "ops.html").read_text()
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", page, flags=re.S | re.I)
    assert scripts and all("src=" in attributes and not body.strip() for attributes, body in scripts), scripts
    assert not re.search(r"<style\b", page, flags=re.I)
    assert not re.search(r"\s(style|on[a-z]+)\s*=", page, flags=re.I)
    assert "javascript:" not in page.lower()
    for resource in re.findall(r'(?:src|href)="([^"]+)"', page):
        assert resource.startswith("/ops/static/"), resource  # this origin's files only


async def test_the_docs_are_not_served_outside_development(client: AsyncClient, app: FastAPI) -> None:
    assert get_settings().environment == "test"
    for path in DOCS:
        response = await client.get(path)
        assert response.status_code == 404, path
        assert_common_headers(response)
    assert app.openapi()["info"]["title"] == "Guildhall"  # the schema itself is still built (tests use it)


@pytest.mark.parametrize(
    ("update", "served"),
    [
        ({"environment": "development"}, True),
        ({"environment": "development", "api_docs": False}, False),
        ({"api_docs": True}, True),  # ENVIRONMENT=test, asked for
    ],
)
async def test_the_docs_are_served_in_development_or_when_asked(update: dict[str, object], served: bool) -> None:
    settings = get_settings().model_copy(update=update)
    transport = ASGITransport(app=create_app(settings))  # no lifespan: the docs need no database
    async with AsyncClient(transport=transport, base_url="http://test") as client:
        for path in DOCS:
            response = await client.get(path)
            assert response.status_code == (200 if served else 404), (update, path)
            assert_common_headers(response)
        if served:
            assert (await client.get("/openapi.json")).json()["info"]["title"] == "Guildhall"
