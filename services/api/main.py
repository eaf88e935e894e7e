"""The API application: factory and lifespan. Run with `uvicorn services.api.main:app`.

Routes are thin doors into `shared/`: they parse, call the domain, and shape the response.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from services.api import allow, docs, metrics, problems, route_gates, security_headers
from services.api.admission import AdmitBeforeBody
from services.api.head import HeadAsGet
from services.api.limits import BodySizeLimit
from services.api.routes import routers
from shared.auth.callers import CallerCache
from shared.db import create_engine, create_read_session_factory, create_session_factory
from shared.jobs.queues import create_job_pool
from shared.redis_connect import RedisTarget
from shared.replica import Replica
from shared.settings import Settings, get_settings

API_PREFIX = "/api/v1"
OPENAPI_URL = "/openapi.json"
STATIC_DIR = Path(__file__).resolve().parent / "static"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    engine = create_engine(settings)
    app.state.engine = engine
    app.state.session_factory = create_session_factory(engine)
    app.state.read_session_factory = create_read_session_factory(engine, settings)
    # The read replica, if any (shared.replica): public lists read there while it is fresh.
    replica_engine = create_engine(settings, url=settings.database_read_url) if settings.database_read_url else None
    if replica_engine is not None:
        app.state.replica = Replica(
            create_read_session_factory(replica_engine, settings), max_lag_seconds=settings.db_replica_max_lag_seconds
        )
        await app.state.replica.start()
    # One lazy Redis client: the arq pool jobs are enqueued to, also used by /readyz.
    app.state.job_pool = app.state.redis = create_job_pool(RedisTarget.from_settings(settings))
    metrics_listener = metrics.listener_for(app, settings)
    if metrics_listener is not None:
        await metrics_listener.start()
    try:
        yield
    finally:
        if metrics_listener is not None:
            await metrics_listener.stop()
        await app.state.job_pool.aclose()
        await engine.dispose()
        if replica_engine is not None:
            await app.state.replica.stop()
            await replica_engine.dispose()


def create_app(settings: Settings | None = None) -> FastAPI:
    # Settings are validated here, so a production start with the default secret fails at once.
    settings = settings or get_settings()
    # The interactive docs and the schema map every route for whoever asks: served in development
    # (or with API_DOCS=true), 404 elsewhere. app.openapi() builds the schema either way.
    docs_enabled = settings.docs_enabled
    app = FastAPI(
        title="Guildhall",
        version="0.1.0",
        summary="Async SQLModel reference service: posts, comments, heroes, catalog, courses, tags.",
        lifespan=lifespan,
        openapi_url=OPENAPI_URL if docs_enabled else None,
        # FastAPI's own docs pages load their assets from a CDN: services.api.docs serves them instead.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.caller_cache = CallerCache(settings.caller_cache_seconds)
    problems.install(app)
    allow.install(app)

    def is_bulk(path: str) -> bool:
        return path.startswith(f"{API_PREFIX}/jobs/")

    def body_limit(path: str) -> int:
        return settings.max_bulk_body_bytes if is_bulk(path) else settings.max_body_bytes

    app.add_middleware(BodySizeLimit, limit_for=body_limit)
    # Outside the body limit: a caller who may not post a bulk job is refused before any byte is read.
    app.add_middleware(
        AdmitBeforeBody,
        guarded=lambda method, path: method == "POST" and is_bulk(path),
        at_once=settings.bulk_uploads_at_once,
    )
    # A HEAD routed as a GET, its body dropped (services.api.head): added after the two above, so
    # outside them (they see the GET), and before metrics.install, so inside the metrics middleware
    # (which labels it HEAD, as the client sent it). Security headers wrap it all, by path.
    app.add_middleware(HeadAsGet)

    # Any API operation may answer 503 (PostgreSQL unavailable, or a bound on a wait reached): say so.
    # Each module's router is included in the app itself, under the prefix: FastAPI matches a request
    # against every route of each router it includes in turn, and again within the router it chose,
    # so one more level of routers (an /api/v1 router holding them all) made every request try each
    # route ahead of its own twice more (a third of a read's CPU here, before its query ran).
    doors = list(routers())  # every module of services.api.routes (found, not listed)
    for door in doors:
        if not door.at_root:
            app.include_router(door.router, prefix=API_PREFIX, responses=problems.problem_responses(503))
    for door in doors:
        if door.at_root:
            app.include_router(door.router)
    route_gates.install(app)  # each request tries only the routers that could serve its path
    install_ops_pages(app)
    if docs_enabled:
        docs.install(app, OPENAPI_URL)
    install_index(app, docs_enabled)
    metrics.install(app, settings)
    # Around everything, 500s included (services.api.security_headers).
    security_headers.install(app)
    return app


def install_ops_pages(app: FastAPI) -> None:
    """The ops dashboard: a static page (no CDN) whose script asks for an admin token and then
    polls /api/v1/ops/queues; the data calls carry the token, the page itself holds no data.
    Its script and style are files, never inline: the page's Content-Security-Policy allows only
    this origin's files (services.api.security_headers)."""
    app.mount("/ops/static", StaticFiles(directory=STATIC_DIR), name="ops-static")

    @app.get("/ops", include_in_schema=False)
    async def ops_dashboard() -> FileResponse:
        return FileResponse(STATIC_DIR / "ops.html", headers={"Cache-Control": "no-store"})


def install_index(app: FastAPI, docs_enabled: bool) -> None:
    """`GET /`: what this service is and where its doors are, for whoever opens the bare address
    (a person or a probe). JSON, as everything else here (a browser shows it as is). The docs are
    named only where they are served. Not in the OpenAPI document: it is no API operation."""
    doors = {
        "api_base": API_PREFIX,
        **({"docs": docs.DOCS_URL, "redoc": docs.REDOC_URL, "openapi": OPENAPI_URL} if docs_enabled else {}),
        "ops": "/ops",
        "healthz": "/healthz",
        "readyz": "/readyz",
    }

    @app.get("/", include_in_schema=False)
    async def index(request: Request) -> dict[str, object]:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        return {
            "service": app.title,
            "version": app.version,
            "summary": app.summary,
            "links": {name: root + path for name, path in doors.items()},
        }


app = create_app()
