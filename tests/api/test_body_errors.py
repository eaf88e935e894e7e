"""What a request body can get before any rule of the route looks at it, and that the OpenAPI says so.

A body FastAPI cannot decode at all (bytes that are not UTF-8) is a 400 "There was an error parsing
the body"; text that is not JSON is a 422 naming `body`; a body over the limit is a 413; a body sent
without `Content-Type: application/json` (curl's `-d` alone sends a form's) is a 422 naming `body`
that says to send that header. Schemathesis
(tests/api/test_schemathesis.py) sends such bodies to every operation and fails on any status the
document leaves out.
"""

import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from services.api.problems import PROBLEM_JSON
from shared.models.users import Role
from tests.api.conftest import SignedIn


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
    admin: SignedIn = await login(Role.admin)
    headers = {**admin.headers, "Content-Type": "application/json"}
    response = await client.post("/api/v1/teams", content=b'{"name": "\xff"}', headers=headers)
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["status"] == 400
    assert "400" in app.openapi()["paths"]["/api/v1/teams"]["post"]["responses"]


async def test_text_that_is_not_json_answers_422_naming_the_body(client: AsyncClient, login) -> None:  # type: ignore[no-untyped-def]
    admin: SignedIn = await login(Role.admin)
    headers = {**admin.headers, "Content-Type": "application/json"}
    response = await client.post("/api/v1/teams", content=b'{"name": ', headers=headers)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["errors"][0]["field"].startswith("body")


@pytest.mark.parametrize("content_type", [None, "application/x-www-form-urlencoded", "text/plain"])
async def test_json_without_the_json_content_type_is_a_422_saying_to_send_it(
    client: AsyncClient,
    login,
    content_type: str | None,  # type: ignore[no-untyped-def]
) -> None:
    admin: SignedIn = await login(Role.admin)
    headers = {**admin.headers, **({"Content-Type": content_type} if content_type else {})}
    response = await client.post("/api/v1/teams", content=b'{"name": "Hinted"}', headers=headers)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert problem["status"] == 422 and problem["error_count"] == 1
    [error] = problem["errors"]
    assert error["field"] == "body" and error["type"] == "content_type"
    assert (
        "Content-Type: application/json" in error["message"] and "Content-Type: application/json" in problem["detail"]
    )
    assert f"(Content-Type sent: {content_type or 'none'})" in error["message"]
    assert "valid dictionary" not in problem["detail"]
    # The same body with the header is accepted.
    sent = await client.post(
        "/api/v1/teams", content=b'{"name": "Hinted"}', headers={**headers, "Content-Type": "application/json"}
    )
    assert sent.status_code == 201, sent.text


async def test_a_json_body_that_is_not_an_object_keeps_its_own_message(client: AsyncClient, login) -> None:  # type: ignore[no-untyped-def]
    admin: SignedIn = await login(Role.admin)
    response = await client.post("/api/v1/teams", json="a string", headers=admin.headers)
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "body" and error["type"] != "content_type" and "Content-Type" not in error["message"]
