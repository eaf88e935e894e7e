"""Every id in a path is checked like a row id: past the database's int4 range (or below 1)
it is a 422 naming `path.<param>`, never a 500 or an unlabelled error."""

import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from shared.models.users import Role
from tests.api.conftest import SignedIn


def routes_with_ids(app: FastAPI) -> list[tuple[str, str, list[str]]]:
    """(method, path, integer path parameters) of every route that has some (job ids are strings)."""
    found = []
    for path, methods in app.openapi()["paths"].items():
        for method, operation in methods.items():
            integers = [
                parameter["name"]
                for parameter in operation.get("parameters", [])
                if parameter["in"] == "path" and parameter["schema"].get("type") == "integer"
            ]
            if integers:
                found.append((method.upper(), path, integers))
    return found


@pytest.mark.parametrize("bad", [2**40, 0])
async def test_out_of_range_path_ids_are_422_with_the_field(app: FastAPI, client: AsyncClient, login, bad: int) -> None:  # type: ignore[no-untyped-def]
    admin: SignedIn = await login(Role.admin)
    routes = routes_with_ids(app)
    assert len(routes) >= 25
    for method, path, params in routes:
        url = path
        for name in params:
            url = url.replace(f"{{{name}}}", str(bad))
        response = await client.request(method, url, json={}, headers=admin.headers)
        assert response.status_code == 422, f"{method} {path}: {response.status_code} {response.text[:200]}"
        fields = {error["field"] for error in response.json().get("errors", [])}
        assert {f"path.{name}" for name in params} & fields, f"{method} {path}: {fields}"


def queries_with_ids(app: FastAPI) -> list[tuple[str, list[str]]]:
    """(path, integer *_id query parameters) of every GET route without path parameters."""
    found = []
    for path, methods in app.openapi()["paths"].items():
        operation = methods.get("get")
        if operation is None or "{" in path:
            continue
        ids = [
            parameter["name"]
            for parameter in operation.get("parameters", [])
            if parameter["in"] == "query"
            and parameter["name"].endswith("_id")
            and "integer" in str(parameter["schema"])
        ]
        if ids:
            found.append((path, ids))
    return found


async def test_out_of_range_query_ids_are_422_with_the_field(app: FastAPI, client: AsyncClient, login) -> None:  # type: ignore[no-untyped-def]
    admin: SignedIn = await login(Role.admin)
    routes = queries_with_ids(app)
    assert len(routes) >= 3
    for path, params in routes:
        for name in params:
            response = await client.get(path, params={name: 2**40}, headers=admin.headers)
            assert response.status_code == 422, f"{path}?{name}: {response.status_code}"
            assert f"query.{name}" in {error["field"] for error in response.json()["errors"]}, path
