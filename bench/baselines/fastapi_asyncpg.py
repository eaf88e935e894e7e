"""Baseline (c), "fastapi-asyncpg": FastAPI over a raw asyncpg pool, no ORM.

Posts: one `INSERT ... RETURNING` (autocommit). Transfers: lock, update and log in one explicit
transaction, three statements. Reads (a published post by id, the first page of published
posts): one statement each, autocommit, Guildhall's SQL (bench/baselines/sql.py). Bodies are
validated and serialized by FastAPI as usual.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import asyncpg
from fastapi import Depends, FastAPI, HTTPException, Query, Request, status

from bench.baselines import sql
from bench.baselines.config import from_env
from bench.baselines.schemas import (
    PostCreate,
    PostDetail,
    PostPage,
    PostRead,
    TransferRead,
    TransferRequest,
    post_detail,
    post_page,
)

config = from_env()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Same ceiling as the SQLAlchemy pools: pool_size + max_overflow connections.
    pool = await asyncpg.create_pool(
        config.url_for("postgresql"), min_size=config.pool_size, max_size=config.pool_size + config.max_overflow
    )
    app.state.pool = pool
    try:
        yield
    finally:
        await pool.close()


app = FastAPI(lifespan=lifespan)


def get_pool(request: Request) -> asyncpg.Pool:
    pool: asyncpg.Pool = request.app.state.pool
    return pool


PoolDep = Annotated[asyncpg.Pool, Depends(get_pool)]


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/posts", status_code=status.HTTP_201_CREATED)
async def create_post(data: PostCreate, pool: PoolDep) -> PostRead:
    row = await pool.fetchrow(
        sql.INSERT_POST, data.title, data.content, data.status, data.category_id, config.author_id
    )
    return PostRead.model_validate(dict(row))


@app.post("/heroes/{hero_id}/transfer")
async def transfer_hero(hero_id: int, data: TransferRequest, pool: PoolDep) -> TransferRead:
    async with pool.acquire() as connection, connection.transaction():
        old = await connection.fetchrow(sql.LOCK_HERO, hero_id)
        if old is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "hero not found")
        await connection.execute(sql.MOVE_HERO, hero_id, data.to_team_id)
        log = await connection.fetchrow(sql.INSERT_LOG, hero_id, old["team_id"], data.to_team_id)
    return TransferRead.model_validate(dict(log))


@app.get("/posts/{post_id}")
async def read_post(post_id: int, pool: PoolDep) -> PostDetail:
    row = await pool.fetchrow(sql.POST_BY_ID, "approved", "published", post_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "post not found")
    return post_detail(row)


@app.get("/posts")
async def list_posts(pool: PoolDep, limit: Annotated[int, Query(ge=1, le=100)] = 20) -> PostPage:
    return post_page(await pool.fetch(sql.POST_PAGE, "approved", "published", limit + 1), limit)
