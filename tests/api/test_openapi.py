"""The OpenAPI document describes every API route fully: its response model and its errors."""

from typing import Any

from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from services.api.main import create_app
from shared.settings import get_settings
from tests.api.access import ACCESS


def operations(app: FastAPI) -> list[tuple[str, str, dict]]:  # type: ignore[type-arg]
    return [
        (method, path, operation)
        for path, methods in app.openapi()["paths"].items()
        if path.startswith("/api/v1/")
        for method, operation in methods.items()
    ]


def test_every_operation_has_a_typed_success_response_and_problem_shaped_errors(app: FastAPI) -> None:
    found = operations(app)
    assert len(found) >= 50
    for method, path, operation in found:
        responses = operation["responses"]
        success = [code for code in responses if code.startswith("2")]
        assert success, f"{method} {path}: no success response"
        for code in success:
            if code != "204":
                assert responses[code].get("content", {}).get("application/json", {}).get("schema"), (
                    method,
                    path,
                    code,
                )
        for code, response in responses.items():
            if code.startswith(("4", "5")):
                assert "Problem" in str(response), f"{method} {path} {code}: not the problem shape"
            assert "HTTPValidationError" not in str(response), f"{method} {path} {code}: FastAPI's default 422"
        rule = ACCESS.get(f"{method.upper()} {path}")
        if rule is not None and rule != "public":
            assert "401" in responses, f"{method} {path}: 401 undocumented"
        if rule in ("owner", "moderator", "admin"):
            assert "403" in responses, f"{method} {path}: 403 undocumented"


async def test_the_interactive_docs_are_served() -> None:
    # Served in development or with API_DOCS=true (tests run as ENVIRONMENT=test, where they are not:
    # tests/api/test_security_headers.py).
    app = create_app(get_settings().model_copy(update={"api_docs": True}))
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client:
        docs = await client.get("/docs")
        assert docs.status_code == 200 and "swagger" in docs.text.lower()
        assert (await client.get("/openapi.json")).json()["info"]["title"] == "Guildhall"


def _allows_null(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "null" or any(_allows_null(option) for option in schema.get("anyOf", []))


def test_patch_bodies_document_null_only_where_null_is_accepted(app: FastAPI) -> None:
    """A PATCH field that answers 422 "cannot be null" must not say null in the schema; one
    whose null means something (remove the category, leave the team) must."""
    schemas = app.openapi()["components"]["schemas"]
    refused = {
        "PostUpdate": ("title", "content", "status"),
        "ArticleUpdate": ("title", "content", "status"),
        "ImageUpdate": ("filename", "alt_text"),
        "HeroUpdate": ("name", "secret_identity", "age", "power_level"),
        "CategoryUpdate": ("name",),
    }
    meaningful = {"PostUpdate": ("category_id",), "HeroUpdate": ("team_id",), "CategoryUpdate": ("parent_id",)}
    for model, fields in refused.items():
        properties = schemas[model]["properties"]
        for field in fields:
            assert not _allows_null(properties[field]) and "default" not in properties[field], (model, field)
        assert not schemas[model].get("required"), model  # every field may be left out
    for model, fields in meaningful.items():
        for field in fields:
            assert _allows_null(schemas[model]["properties"][field]), (model, field)


def test_every_operation_documents_503(app: FastAPI) -> None:
    """Any of them may meet PostgreSQL unavailable or a wait past its bound (README, errors)."""
    for method, path, operation in operations(app):
        assert "503" in operation["responses"], (method, path)
