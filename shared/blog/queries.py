"""Post and comment reads: visibility, filters and keyset pages, each page in ONE statement
(a comment page also checks, in one more, that its post is visible to the caller).

A post row carries its author's name, its category's name and its approved-comment count
(a correlated COUNT served by ix_comment_post_id_state), so a page never needs a query per post.
"""

import re
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Insert, and_, bindparam, func, insert, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import Select

from shared.auth.callers import Caller
from shared.blog.schemas import CommentModeratedRead, CommentRead, PostCategory, PostCreate, PostFilters, PostRead
from shared.catalog.queries import subtree_ids
from shared.errors import ConstraintViolation, NotFound, constraint_errors
from shared.models.base import table_of
from shared.models.blog import Comment, ModerationState, Post, PostStatus
from shared.models.catalog import Category
from shared.models.users import Role, User
from shared.pagination import keyset, page_of
from shared.schemas import Page, TimeIdPosition, row_id
from shared.users.schemas import UserPublic

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


# --- keyset positions -------------------------------------------------------------------------

# Posts newest first, comments oldest first; the id breaks ties between equal times.
POST_ORDER = (col(Post.created_at), col(Post.id))
COMMENT_ORDER = (col(Comment.created_at), col(Comment.id))

# The rows a post read selects: the Post, its author's name, its category's name (NULL without a
# category; sqlmodel types the column as the table's str) and its approved-comment count.
PostRows = Select[Post, str, str, Any]
# The rows a comment read selects: the Comment and its author's name.
CommentRows = Select[Comment, str]


def _row_position(row: Any) -> TimeIdPosition:
    """Where a page of (Post or Comment, ...) rows ended: its last row's (created_at, id)."""
    stored: Post | Comment = row[0]
    return TimeIdPosition(at=stored.created_at, id=row_id(stored))


# --- posts ------------------------------------------------------------------------------------


# --- title search: only terms the trigram index can serve -----------------------------------

# The shortest search term (the route's `q`, Query(min_length=...)): a term of 1 or 2 characters has
# no trigram, so ILIKE '%q%' can only read every post (276 ms at 1,000,000 posts, against 3 ms).
SEARCH_MIN_LENGTH = 3
SEARCH_RULE = "search_term_indexable"
SEARCH_RULE_MESSAGE = (
    "the search term gives the title index nothing to look up: it needs 3 letters or digits in a row,"
    " or 1 or 2 beside a space or punctuation mark (' ab', 'ab!', 'a b'); a term of only spaces and"
    " punctuation, say, would read every post"
)
_WORD = re.compile(r"[^\W_]+")  # what pg_trgm counts as a word: letters and digits


def searchable(term: str) -> bool:
    """Whether ILIKE '%term%' gives pg_trgm at least one trigram to look up in ix_post_title_trgm.

    pg_trgm splits a LIKE pattern into words (runs of letters and digits) and pads a word with two
    spaces before it where a space or punctuation mark precedes it, one after it where one follows;
    next to the pattern's own % it pads nothing. A word yields a trigram once it and its padding
    make 3 characters: "abc", "ab ", "!!a" and "a b" do; "%%%", "   " and "a!!" do not, and
    PostgreSQL would read every row for them whatever the term's length."""
    for word in _WORD.finditer(term):
        before = 2 if word.start() > 0 else 0
        after = 1 if word.end() < len(term) else 0
        if before + len(word.group()) + after >= 3:
            return True
    return False


def ensure_searchable(term: str | None) -> None:
    """422 on `query.q` (rule search_term_indexable) for a term the trigram index cannot serve,
    before any SQL runs; the length rule (SEARCH_MIN_LENGTH) is the route's own."""
    if term is not None and not searchable(term):
        raise ConstraintViolation(
            kind="check",
            constraint=SEARCH_RULE,
            table=None,
            fields=("query.q",),
            message=SEARCH_RULE_MESSAGE,
            value=None,
        )


def escape_like(term: str) -> str:
    """`term` with LIKE's wildcards (and the escape character itself) taken literally.
    Backslash is PostgreSQL's default LIKE escape, so the pattern needs no ESCAPE clause."""
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def post_visibility(viewer: Caller | None) -> ColumnElement[bool] | None:
    """Which posts `viewer` may see: published ones, plus their own; admins see all (None)."""
    if viewer is not None and viewer.role == Role.admin:
        return None
    published = col(Post.status) == PostStatus.published
    if viewer is None:
        return published
    return or_(published, col(Post.author_id) == viewer.id)


def _post_read_statement(viewer: Caller | None) -> PostRows:
    """Posts visible to `viewer`, each row (Post, author name, category name, approved comments)."""
    approved_comments = (
        select(func.count())
        .where(col(Comment.post_id) == col(Post.id), col(Comment.moderation_state) == ModerationState.approved)
        .correlate(Post)
        .scalar_subquery()
    )
    statement = (
        select(Post, col(User.username), col(Category.name), approved_comments.label("approved_comment_count"))
        .join(User, col(User.id) == col(Post.author_id))
        .outerjoin(Category, col(Category.id) == col(Post.category_id))
    )
    if (visible := post_visibility(viewer)) is not None:
        statement = statement.where(visible)
    return statement


def _post_read(row: Any) -> PostRead:
    post, username, category_name, approved_comment_count = row
    category = None if post.category_id is None else PostCategory(id=post.category_id, name=category_name)
    return PostRead(
        id=post.id,
        title=post.title,
        content=post.content,
        status=post.status,
        created_at=post.created_at,
        updated_at=post.updated_at,
        author=UserPublic(id=post.author_id, username=username),
        category=category,
        approved_comment_count=approved_comment_count,
    )


def post_page_statement(
    viewer: Caller | None, filters: PostFilters, *, limit: int, after: TimeIdPosition | None = None
) -> PostRows:
    """One page of the post list, newest first, with one extra row to tell whether more follow."""
    statement = _post_read_statement(viewer)
    if filters.status is not None:
        statement = statement.where(col(Post.status) == filters.status)
    if filters.author_id is not None:
        statement = statement.where(col(Post.author_id) == filters.author_id)
    if filters.category_id is not None:
        if filters.include_subcategories:
            tree = subtree_ids(filters.category_id)
            statement = statement.where(col(Post.category_id).in_(select(tree.c.id)))
        else:
            statement = statement.where(col(Post.category_id) == filters.category_id)
    if filters.q:
        # Served by the trigram index ix_post_title_trgm (GIN, gin_trgm_ops on title).
        statement = statement.where(col(Post.title).ilike(f"%{escape_like(filters.q)}%"))
    return keyset(statement, POST_ORDER, (after.at, after.id) if after else None, limit=limit, descending=True)


async def list_posts(
    session: AsyncSession,
    viewer: Caller | None,
    filters: PostFilters,
    *,
    limit: int = DEFAULT_PAGE_SIZE,
    cursor: str | None = None,
) -> Page[PostRead]:
    ensure_searchable(filters.q)
    statement = post_page_statement(viewer, filters, limit=limit, after=TimeIdPosition.decode(cursor))
    rows = (await session.exec(statement)).all()
    return page_of(rows, limit, _row_position, _post_read, page=Page[PostRead])


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
    statement = _post_read_statement(viewer).where(col(Post.id) == post_id).execution_options(populate_existing=True)
    row = (await session.exec(statement)).first()
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


# --- comments ---------------------------------------------------------------------------------


def _comment_fields(comment: Comment, author_name: str) -> dict[str, Any]:
    return {
        "id": comment.id,
        "post_id": comment.post_id,
        "content": comment.content,
        "created_at": comment.created_at,
        "author": UserPublic(id=comment.author_id, username=author_name),
    }


def comment_read(comment: Comment, author_name: str) -> CommentRead:
    """What anyone may see of a comment."""
    return CommentRead(**_comment_fields(comment, author_name))


def moderated_comment_read(comment: Comment, author_name: str) -> CommentModeratedRead:
    """What moderators see: the comment and its moderation."""
    return CommentModeratedRead(
        **_comment_fields(comment, author_name),
        moderation_state=ModerationState(comment.moderation_state),
        moderation_reason=comment.moderation_reason,
        moderated_at=comment.moderated_at,
        moderated_by_id=comment.moderated_by_id,
    )


def _comment_statement() -> CommentRows:
    return select(Comment, col(User.username)).join(User, col(User.id) == col(Comment.author_id))


def comment_page_statement(
    post_id: int, *, all_states: bool, limit: int, after: TimeIdPosition | None = None
) -> CommentRows:
    """One page of a post's comments, oldest first, plus one row to tell whether more follow."""
    statement = _comment_statement().where(col(Comment.post_id) == post_id)
    if not all_states:
        statement = statement.where(col(Comment.moderation_state) == ModerationState.approved)
    return keyset(statement, COMMENT_ORDER, (after.at, after.id) if after else None, limit=limit)


async def list_comments(
    session: AsyncSession,
    post_id: int,
    viewer: Caller | None,
    *,
    with_moderation: bool,
    limit: int = DEFAULT_PAGE_SIZE,
    cursor: str | None = None,
) -> Page[CommentRead] | Page[CommentModeratedRead]:
    """A visible post's comments: approved ones only, or every one with its moderation
    (`with_moderation`, for moderators). Two statements: the post's visibility, then the page."""
    after = TimeIdPosition.decode(cursor)
    await visible_post(session, post_id, viewer)
    statement = comment_page_statement(post_id, all_states=with_moderation, limit=limit, after=after)
    rows = (await session.exec(statement)).all()
    if with_moderation:
        return page_of(
            rows,
            limit,
            _row_position,
            lambda row: moderated_comment_read(row[0], row[1]),
            page=Page[CommentModeratedRead],
        )
    return page_of(rows, limit, _row_position, lambda row: comment_read(row[0], row[1]), page=Page[CommentRead])


def comment_visibility(viewer: Caller) -> ColumnElement[bool] | None:
    """Which comments `viewer` may know of: on a post they may see, approved or their own,
    and every comment there for moderators; admins see all (None)."""
    if viewer.role == Role.admin:
        return None
    post_visible = post_visibility(viewer)
    if viewer.role == Role.moderator:
        return post_visible
    mine_or_public = or_(col(Comment.moderation_state) == ModerationState.approved, col(Comment.author_id) == viewer.id)
    return and_(post_visible, mine_or_public) if post_visible is not None else mine_or_public


async def comment_with_author(
    session: AsyncSession, comment_id: int, viewer: Caller, *, for_update: bool = False
) -> tuple[Comment, str]:
    """The comment and its author's name in one statement, if `viewer` may know of it (else
    NotFound: a pending comment or one on a hidden post does not leak through a 403).
    `for_update` locks the comment row, so two writers are serialised, not interleaved."""
    statement = (
        _comment_statement().join(Post, col(Post.id) == col(Comment.post_id)).where(col(Comment.id) == comment_id)
    )
    if (visible := comment_visibility(viewer)) is not None:
        statement = statement.where(visible)
    if for_update:
        statement = statement.with_for_update(of=Comment)
    row = (await session.exec(statement)).first()
    if row is None:
        raise NotFound("comment", comment_id)
    return row[0], row[1]
