"""Baseline (d), "starlette-asyncpg": bare Starlette over a raw asyncpg pool, one statement per
request (the transfer is one CTE: lock, move and log). The floor of what a Python service on
this stack can do: no validation library, no dependency injection, no ORM.
"""

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bench.baselines import sql
from bench.baselines.config import from_env

config = from_env()
STATUSES = {"draft", "published", "archived"}


def as_json(row: asyncpg.Record) -> dict[str, Any]:
    return {key: value.isoformat() if isinstance(value, datetime) else value for key, value in row.items()}


def unprocessable(detail: str) -> Response:
    return JSONResponse({"detail": detail}, status_code=422)


async def read_json(request: Request) -> dict[str, Any] | None:
    try:
        body = await request.json()
    except json.JSONDecodeError:
        return None
    return body if isinstance(body, dict) else None


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def create_post(request: Request) -> Response:
    body = await read_json(request)
    if body is None:
        return unprocessable("a JSON object is required")
    title, content = body.get("title"), body.get("content")
    status, category_id = body.get("status", "draft"), body.get("category_id")
    if not isinstance(title, str) or not 1 <= len(title) <= 200 or not isinstance(content, str) or not content:
        return unprocessable("title (1..200 characters) and content are required")
    if status not in STATUSES or not (category_id is None or isinstance(category_id, int)):
        return unprocessable("bad status or category_id")
    row = await request.app.state.pool.fetchrow(sql.INSERT_POST, title, content, status, category_id, config.author_id)
    return JSONResponse(as_json(row), status_code=201)


async def transfer_hero(request: Request) -> Response:
    body = await read_json(request)
    to_team_id = None if body is None else body.get("to_team_id")
    if body is None or not (to_team_id is None or isinstance(to_team_id, int)):
        return unprocessable("to_team_id (an integer or null) is required")
    try:
        row = await request.app.state.pool.fetchrow(sql.TRANSFER_CTE, request.path_params["hero_id"], to_team_id)
    except asyncpg.ForeignKeyViolationError:
        return JSONResponse({"detail": "team not found"}, status_code=404)
    if row is None:
        return JSONResponse({"detail": "hero not found"}, status_code=404)
    return JSONResponse(as_json(row))


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    pool = await asyncpg.create_pool(
        config.url_for("postgresql"), min_size=config.pool_size, max_size=config.pool_size + config.max_overflow
    )
    app.state.pool = pool
    try:
        yield
    finally:
        await pool.close()


app = Starlette(
    routes=[
        Route("/healthz", healthz),
        Route("/posts", create_post, methods=["POST"]),
        Route("/heroes/{hero_id:int}/transfer", transfer_hero, methods=["POST"]),
    ],
    lifespan=lifespan,
)
