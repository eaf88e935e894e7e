"""Post reads: visibility, filters and keyset pages, each page in ONE statement (a post's
comments: shared.blog.comment_queries).

A post row carries its author's name, its category's name and its approved-comment count
(a correlated COUNT served by ix_comment_post_id_state_created_at), so a page never needs a query per post.
The title search's rules are shared.blog.search's.
"""

from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Insert, bindparam, func, insert, or_
from sqlalchemy import Select as CoreSelect
from sqlalchemy import select as core_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.auth.callers import Caller
from shared.blog.schemas import PostCategory, PostCreate, PostFilters, PostRead
from shared.blog.search import SEARCH_MIN_LENGTH, SEARCH_RULE, ensure_searchable, escape_like, searchable
from shared.catalog.queries import subtree_ids
from shared.errors import NotFound, constraint_errors
from shared.models.base import table_of
from shared.models.blog import Comment, ModerationState, Post, PostStatus
from shared.models.catalog import Category
from shared.models.users import Role, User
from shared.pagination import keyset, page_of
from shared.schemas import Page, TimeIdPosition
from shared.users.schemas import UserPublic

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100

# Re-exported: the search rules live in shared.blog.search; routes and tests name them here.
__all__ = ["SEARCH_MIN_LENGTH", "SEARCH_RULE", "escape_like", "searchable"]


# --- posts ------------------------------------------------------------------------------------


def post_visibility(viewer: Caller | None) -> ColumnElement[bool] | None:
    """Which posts `viewer` may see: published ones, plus their own; admins see all (None)."""
    if viewer is not None and viewer.role == Role.admin:
        return None
    published = col(Post.status) == PostStatus.published
    if viewer is None:
        return published
    return or_(published, col(Post.author_id) == viewer.id)


# A post read selects columns, not the Post entity: its answer is built from plain rows, so no ORM
# object is made, put in the identity map or refreshed per post. Its statements are built once
# per kind of viewer and page shape, with bind parameters: building one per request cost more
# Python time than running it (and a statement built once also keeps its SQLAlchemy cache key).
_POST, _USER, _CATEGORY, _COMMENT = (table_of(model) for model in (Post, User, Category, Comment))
ANONYMOUS, SIGNED_IN, ADMIN = "anonymous", "signed in", "admin"


def _viewer(viewer: Caller | None) -> tuple[str, dict[str, Any]]:
    """The kind of `viewer` (what post_visibility tells apart) and the parameters its rule needs."""
    if viewer is None:
        return ANONYMOUS, {}
    if viewer.role == Role.admin:
        return ADMIN, {}
    return SIGNED_IN, {"viewer_id": viewer.id}


def _post_read_statement(kind: str) -> CoreSelect[Any]:
    """Posts a viewer of `kind` may see (post_visibility's rule), each row the post's columns, its
    author's name, its category's name and its approved-comment count."""
    approved_comments = (
        core_select(func.count())
        .where(_COMMENT.c.post_id == _POST.c.id, _COMMENT.c.moderation_state == ModerationState.approved)
        .correlate(_POST)
        .scalar_subquery()
    )
    post = _POST.c
    statement: CoreSelect[Any] = (
        core_select(
            *(post.id, post.title, post.content, post.status, post.created_at, post.updated_at, post.author_id),
            *(post.category_id, _USER.c.username, _CATEGORY.c.name, approved_comments),
        )
        .join_from(_POST, _USER, _USER.c.id == post.author_id)
        .outerjoin(_CATEGORY, _CATEGORY.c.id == post.category_id)
    )
    published = post.status == PostStatus.published
    if kind == ANONYMOUS:
        return statement.where(published)
    if kind == SIGNED_IN:
        return statement.where(or_(published, post.author_id == bindparam("viewer_id")))
    return statement


_READ_POST = {
    kind: _post_read_statement(kind).where(_POST.c.id == bindparam("post_id")) for kind in (ANONYMOUS, SIGNED_IN, ADMIN)
}


def _post_read(row: Any) -> PostRead:
    post_id, title, content, status, created_at, updated_at, author_id, category_id, username, category_name, count = (
        row
    )
    return PostRead(
        id=post_id,
        title=title,
        content=content,
        status=status,
        created_at=created_at,
        updated_at=updated_at,
        author=UserPublic(id=author_id, username=username),
        category=None if category_id is None else PostCategory(id=category_id, name=category_name),
        approved_comment_count=count,
    )


def _post_position(row: Any) -> TimeIdPosition:
    return TimeIdPosition(at=row[4], id=row[0])  # created_at, id


@lru_cache(maxsize=1024)
def _page_statement(
    kind: str, shape: tuple[str, ...], subtree_of: int | None, after: bool, limit: int
) -> CoreSelect[Any]:
    """A page of posts for a viewer of `kind`, filtered by the filters named in `shape` (their values
    are parameters), newest first. A subtree filter's recursive CTE names its root (`subtree_of`)."""
    statement = _post_read_statement(kind)
    post = _POST.c
    if "status" in shape:
        statement = statement.where(post.status == bindparam("status"))
    if "author_id" in shape:
        statement = statement.where(post.author_id == bindparam("author_id"))
    if "own" in shape:
        # A signed-in author asking for drafts or archived posts can see only their own: said
        # outright, so ix_post_author_id_status_created_at serves it (PostgreSQL does not derive
        # it from "published OR mine"; the list read every author's drafts, 7-20x at 10^6 posts).
        statement = statement.where(post.author_id == bindparam("viewer_id"))
    if subtree_of is not None:
        statement = statement.where(post.category_id.in_(core_select(subtree_ids(subtree_of).c.id)))
    elif "category_id" in shape:
        statement = statement.where(post.category_id == bindparam("category_id"))
    if "q" in shape:
        # Served by the trigram index ix_post_title_trgm (GIN, gin_trgm_ops on title).
        statement = statement.where(post.title.ilike(bindparam("pattern")))
    position: tuple[Any, ...] | None = (bindparam("after_at"), bindparam("after_id")) if after else None
    return keyset(statement, (post.created_at, post.id), position, limit=limit, descending=True)


def _page(
    viewer: Caller | None, filters: PostFilters, limit: int, after: TimeIdPosition | None
) -> tuple[CoreSelect[Any], dict[str, Any]]:
    """The page's statement (built once per shape) and its parameters."""
    kind, params = _viewer(viewer)
    subtree_of = filters.category_id if filters.include_subcategories else None
    values = {"status": filters.status, "author_id": filters.author_id, "category_id": filters.category_id}
    params.update((name, value) for name, value in values.items() if value is not None)
    if filters.q:
        params["pattern"] = f"%{escape_like(filters.q)}%"
    if after is not None:
        params.update(after_at=after.at, after_id=after.id)
    shape = tuple(name for name in ("status", "author_id", "category_id", "q") if getattr(filters, name))
    if kind == SIGNED_IN and filters.status not in (None, PostStatus.published):
        shape += ("own",)
    return _page_statement(kind, shape, subtree_of, after is not None, limit), params


def post_page_statement(
    viewer: Caller | None, filters: PostFilters, *, limit: int, after: TimeIdPosition | None = None
) -> CoreSelect[Any]:
    """A page of the post list as the app sends it, its values bound (for EXPLAIN)."""
    statement, params = _page(viewer, filters, limit, after)
    return statement.params(params)


async def list_posts(
    session: AsyncSession,
    viewer: Caller | None,
    filters: PostFilters,
    *,
    limit: int = DEFAULT_PAGE_SIZE,
    cursor: str | None = None,
) -> Page[PostRead]:
    ensure_searchable(filters.q)
    statement, params = _page(viewer, filters, limit, TimeIdPosition.decode(cursor))
    rows = (await session.exec(statement, params=params)).all()  # type: ignore[call-overload]  # sqlmodel types exec() for its select(); a Core one runs as execute()
    return page_of(rows, limit, _post_position, _post_read, page=Page[PostRead])


def _insert_post_statement(with_category: bool) -> Insert:
    """INSERT ... RETURNING id (and the category's name, as a subquery, when there is one).
    Built once with bind parameters: building a statement per request costs more Python time than
    executing it (SQLAlchemy's compiled cache still keys it, but skips coercing the values)."""
    table = table_of(Post)
    returning: list[Any] = [table.c.id]
    if with_category:
        returning.append(select(Category.name).where(col(Category.id) == bindparam("category_id")).scalar_subquery())
    columns = ("title", "content", "status", "category_id", "author_id")
    values: dict[str, Any] = {name: bindparam(name) for name in columns}
    return (
        insert(table).values(**values, created_at=bindparam("now"), updated_at=bindparam("now")).returning(*returning)
    )


_INSERT_POST = {with_category: _insert_post_statement(with_category) for with_category in (False, True)}


async def insert_post(
    session: AsyncSession, data: PostCreate, *, author_id: int, now: datetime
) -> tuple[int, PostCategory | None]:
    """INSERT the post, stamped `now`: its id, and its category (with the name) if it has one, in
    ONE statement. An unknown category is refused by its foreign key (ConstraintViolation)."""
    params = {
        "title": data.title,
        "content": data.content,
        "status": data.status,
        "category_id": data.category_id,
        "author_id": author_id,
        "now": now,
    }
    with constraint_errors():
        result = await session.exec(_INSERT_POST[data.category_id is not None], params=params)
        row = result.one()
    category = None if data.category_id is None else PostCategory(id=data.category_id, name=row[1])
    return row[0], category


async def read_post(session: AsyncSession, post_id: int, viewer: Caller | None) -> PostRead:
    """One post as `viewer` may see it; a post they may not see does not exist for them (404)."""
    kind, params = _viewer(viewer)
    row = (await session.exec(_READ_POST[kind], params={**params, "post_id": post_id})).first()  # type: ignore[call-overload]  # as in list_posts
    if row is None:
        raise NotFound("post", post_id)
    return _post_read(row)


async def visible_post(session: AsyncSession, post_id: int, viewer: Caller | None) -> Post:
    """The Post row if `viewer` may see it, else NotFound (so hidden posts do not leak)."""
    statement = select(Post).where(col(Post.id) == post_id)
    if (visible := post_visibility(viewer)) is not None:
        statement = statement.where(visible)
    post = (await session.exec(statement)).first()
    if post is None:
        raise NotFound("post", post_id)
    return post
