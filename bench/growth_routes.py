"""The app's GET routes, found rather than listed, and the ones the growth benchmark leaves out, each
with why: a new read is either timed or named here, never forgotten (tests/test_bench_growth.py)."""

from fastapi.routing import APIRoute
from starlette.routing import Mount, Route

from bench.api.apps import BENCH_SECRET
from services.api.main import API_PREFIX, create_app
from services.api.routes import routers
from shared.settings import Settings

# Path templates as the app serves them, and why their cost cannot grow with any table.
EXCLUDED: dict[str, str] = {
    "/healthz": "liveness probe: reads nothing",
    "/readyz": "readiness probe: SELECT 1 and PING, no table",
    "/metrics": "the process's own counters, no table",
    "/": "the index: names the doors, reads nothing",
    "/ops": "the dashboard's static page (its data is GET /api/v1/ops/queues, timed)",
    "/ops/static": "the dashboard's files",
    "/docs": "Swagger UI page, static",
    "/docs/static": "Swagger UI's and ReDoc's files",
    "/docs/oauth2-redirect": "Swagger UI's login redirect page, static",
    "/redoc": "ReDoc page, static",
    "/openapi.json": "the schema: the same for any data",
    "/api/v1/ops/crons": "one HGETALL per cron and one EXISTS per queue in Redis: no table, nothing that grows",
    "/api/v1/ops/dead-letters": (
        "ops dead letters: limit + 1 outbox rows on the pending-rows index and limit + 1 failed job records"
        " walking ix_job_finished_at (which also holds complete records: a page among many complete and few"
        " failed records reads more of it; no partial index of failed records yet), plus the failed results"
        " Redis keeps, bounded by arq's result retention (1 h / 1 day), not by any table"
    ),
}


def get_routes() -> set[str]:
    """Every GET path template of the app (docs on, as the benchmark serves it): each routes module's
    (under the API prefix unless it is served at the root), and the app's own pages and mounts."""
    found: set[str] = set()
    for door in routers():
        for route in door.router.routes:
            if isinstance(route, APIRoute) and "GET" in (route.methods or ()):
                found.add(route.path if door.at_root else API_PREFIX + route.path)
    settings = Settings(environment="development", secret_key=BENCH_SECRET, api_docs=True)
    for route in create_app(settings).routes:
        # The routers' routes come in as included routers (found above); the rest are the app's own.
        if isinstance(route, Mount) or (isinstance(route, APIRoute | Route) and "GET" in (route.methods or ())):
            found.add(route.path)
    return found


def uncovered(timed: set[str], excluded: dict[str, str] = EXCLUDED) -> list[str]:
    """GET routes neither timed nor excluded (should be none), and exclusions of routes that are
    gone (stale: should be none either)."""
    routes = get_routes()
    missing = sorted(routes - timed - set(excluded))
    stale = sorted(f"{path} (excluded, but no such route)" for path in set(excluded) - routes)
    return missing + stale
