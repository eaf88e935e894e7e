"""`GET /` names the service and where its doors are (services.api.main.install_index): the docs
only where they are served; every door it names answers; it is not an operation of the OpenAPI document."""

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from services.api.main import create_app
from shared.settings import get_settings

ALWAYS = {"api_base": "/api/v1", "ops": "/ops", "healthz": "/healthz", "readyz": "/readyz"}
DOCS = {"docs": "/docs", "redoc": "/redoc", "openapi": "/openapi.json"}


async def test_the_root_names_the_service_and_its_doors_but_not_the_docs_outside_development(
    client: AsyncClient, app: FastAPI
) -> None:
    assert not get_settings().docs_enabled  # ENVIRONMENT=test
    response = await client.get("/")
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    assert response.headers["x-content-type-options"] == "nosniff"
    body = response.json()
    assert body["service"] == "Guildhall" and body["version"] == app.version and body["summary"]
    assert body["links"] == ALWAYS
    for name, path in body["links"].items():
        if name != "api_base":  # a prefix, not a page
            assert (await client.get(path)).status_code == 200, (name, path)
    assert (await client.get("/api/v1/posts")).status_code == 200  # under the prefix: the API


@pytest.mark.parametrize("update", [{"api_docs": True}, {"environment": "development"}])
async def test_the_root_links_the_docs_where_they_are_served(update: dict[str, object]) -> None:
    app = create_app(get_settings().model_copy(update=update))
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client:  # no lifespan
        links = (await client.get("/")).json()["links"]
        assert links == ALWAYS | DOCS
        for name in DOCS:
            assert (await client.get(links[name])).status_code == 200, name


async def test_behind_a_root_path_the_links_carry_it() -> None:
    app = create_app(get_settings())
    transport = ASGITransport(app=app, root_path="/guildhall")
    async with AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/guildhall/")
        assert response.status_code == 200
        assert response.json()["links"] == {name: "/guildhall" + path for name, path in ALWAYS.items()}


def test_the_root_is_not_an_operation_of_the_openapi_document(app: FastAPI) -> None:
    assert "/" not in app.openapi()["paths"]
