"""What a request body can get before any rule of the route looks at it, and that the OpenAPI says so.

A body FastAPI cannot decode at all (bytes that are not UTF-8) is a 400 "There was an error parsing
the body"; text that is not JSON is a 422 naming `body`; a body over the limit is a 413. Schemathesis
(tests/api/test_schemathesis.py) sends such bodies to every operation and fails on any status the
document leaves out.
"""

from fastapi import FastAPI
from httpx import AsyncClient

from services.api.problems import PROBLEM_JSON
from shared.models import Role
from tests.api.conftest import Caller


def body_operations(app: FastAPI) -> list[tuple[str, str, dict]]:  # type: ignore[type-arg]
    return [
        (method, path, operation)
        for path, methods in app.openapi()["paths"].items()
        for method, operation in methods.items()
        if "requestBody" in operation
    ]


def test_every_operation_that_reads_a_body_documents_400_and_413(app: FastAPI) -> None:
    found = body_operations(app)
    assert len(found) >= 25
    for method, path, operation in found:
        for status in ("400", "413"):
            assert status in operation["responses"], f"{method.upper()} {path}: {status} undocumented"
            assert "Problem" in str(operation["responses"][status]), f"{method.upper()} {path} {status}"


async def test_a_body_that_is_not_utf8_answers_the_documented_400(app: FastAPI, client: AsyncClient, login) -> None:  # type: ignore[no-untyped-def]
    admin: Caller = await login(Role.admin)
    headers = {**admin.headers, "Content-Type": "application/json"}
    response = await client.post("/api/v1/teams", content=b'{"name": "\xff"}', headers=headers)
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["status"] == 400
    assert "400" in app.openapi()["paths"]["/api/v1/teams"]["post"]["responses"]


async def test_text_that_is_not_json_answers_422_naming_the_body(client: AsyncClient, login) -> None:  # type: ignore[no-untyped-def]
    admin: Caller = await login(Role.admin)
    headers = {**admin.headers, "Content-Type": "application/json"}
    response = await client.post("/api/v1/teams", content=b'{"name": ', headers=headers)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["errors"][0]["field"].startswith("body")
