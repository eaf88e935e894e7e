"""/metrics on the API's own port, and who may read it there: nobody when METRICS_LISTEN serves it
elsewhere (404); with METRICS_TOKEN, a bearer of that token; with neither, anyone in development
and nobody (403) elsewhere."""

import hmac

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from services.api.metrics.middleware import HttpMetrics, HttpMetricsMiddleware
from services.api.metrics.registry import render
from services.api.problems import problem_response
from shared.settings import Settings


def token_allows(settings: Settings, authorization: str | None) -> bool:
    if settings.metrics_token is None:
        return settings.environment == "development"
    expected = f"Bearer {settings.metrics_token.get_secret_value()}"
    # In constant time: the comparison must not tell a guesser how much of the token was right.
    return authorization is not None and hmac.compare_digest(authorization.encode(), expected.encode())


def install(app: FastAPI, settings: Settings) -> None:
    """The HTTP metrics middleware and the /metrics route."""
    metrics = HttpMetrics()
    app.state.http_metrics = metrics
    app.add_middleware(HttpMetricsMiddleware, metrics=metrics)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics(request: Request) -> Response:
        if settings.metrics_listen:
            return problem_response(404, f"metrics are served on {settings.metrics_listen}")
        if not token_allows(settings, request.headers.get("authorization")):
            detail = "a valid metrics token is required" if settings.metrics_token else "set METRICS_TOKEN"
            return problem_response(403 if settings.metrics_token is None else 401, detail)
        return Response(await render(app), media_type=CONTENT_TYPE_LATEST)
