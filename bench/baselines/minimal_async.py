"""Baseline (b), "minimal-async": FastAPI with sqlmodel's `AsyncSession` on asyncpg, done lean.

One transaction per request, `INSERT ... RETURNING` (no refresh round trip), no auth, no
middleware. The transfer locks the hero (`FOR UPDATE`, as Guildhall does, so the two do the
same work for correctness) and writes its TransferLog in the same transaction. The reads (a
published post by id, the first page of published posts) are one Core SELECT each, built once,
in the session's transaction (rolled back at close: nothing was written): the statement
Guildhall's shared.blog.queries runs for an anonymous caller.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query, status
from sqlalchemy import Integer, Select, bindparam, func, insert
from sqlalchemy import select as core_select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

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
from bench.baselines.tables import Hero, Post, TransferLog

config = from_env()
engine = create_async_engine(
    config.url_for("postgresql+asyncpg"), pool_size=config.pool_size, max_overflow=config.max_overflow
)
sessions = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
# The Table, not the entity: a Core INSERT ... RETURNING skips the ORM's bulk-insert machinery
# (about a third less CPU per post than `insert(Post).returning(Post)` here); lean is the point.
post_table = Post.metadata.tables["post"]
# The tables the reads join (bench/baselines/tables.py declares them in the same MetaData).
user_table, category_table, comment_table = (
    Post.metadata.tables[name] for name in ("user_account", "category", "comment")
)


def _read_statement() -> Select[Any]:
    """Published posts, each with its author's name, its category's name and its approved comments."""
    approved = (
        core_select(func.count())
        .where(comment_table.c.post_id == post_table.c.id, comment_table.c.moderation_state == "approved")
        .correlate(post_table)
        .scalar_subquery()
    )
    # Core's select: columns, not entities (no ORM rows to build), as the lean write does.
    return (
        core_select(
            *post_table.columns,
            user_table.c.username,
            category_table.c.name.label("category_name"),
            approved.label("approved_comment_count"),
        )
        .select_from(post_table)
        .join(user_table, user_table.c.id == post_table.c.author_id)
        .outerjoin(category_table, category_table.c.id == post_table.c.category_id)
        .where(post_table.c.status == "published")
    )


POST_BY_ID = _read_statement().where(post_table.c.id == bindparam("post_id"))
POST_PAGE = (
    _read_statement()
    .order_by(post_table.c.created_at.desc(), post_table.c.id.desc())
    .limit(bindparam("limit", type_=Integer))
)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    await engine.dispose()


app = FastAPI(lifespan=lifespan)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/posts", status_code=status.HTTP_201_CREATED)
async def create_post(data: PostCreate) -> PostRead:
    values = data.model_dump() | {"author_id": config.author_id}
    statement = insert(post_table).values(**values).returning(*post_table.columns)
    async with sessions() as session, session.begin():
        row = (await session.exec(statement)).one()
    return PostRead.model_validate(row._mapping)


@app.post("/heroes/{hero_id}/transfer")
async def transfer_hero(hero_id: int, data: TransferRequest) -> TransferRead:
    async with sessions() as session, session.begin():
        locked = select(Hero).where(col(Hero.id) == hero_id).with_for_update()
        hero = (await session.exec(locked)).first()
        if hero is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "hero not found")
        log = TransferLog(hero_id=hero_id, from_team_id=hero.team_id, to_team_id=data.to_team_id)
        hero.team_id = data.to_team_id
        session.add(log)
    # Committed: the UPDATE and the INSERT were flushed together at commit.
    return TransferRead.model_validate(log)


@app.get("/posts/{post_id}")
async def read_post(post_id: int) -> PostDetail:
    async with sessions() as session:
        row = (await session.exec(POST_BY_ID, params={"post_id": post_id})).first()  # type: ignore[call-overload]  # sqlmodel types exec() for its own select(); a Core one runs as execute()
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "post not found")
    return post_detail(row._mapping)


@app.get("/posts")
async def list_posts(limit: Annotated[int, Query(ge=1, le=100)] = 20) -> PostPage:
    async with sessions() as session:
        rows = (await session.exec(POST_PAGE, params={"limit": limit + 1})).all()  # type: ignore[call-overload]  # as above
    return post_page([row._mapping for row in rows], limit)
