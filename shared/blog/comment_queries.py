"""Comment reads: who may know of a comment, a post's comments a keyset page at a time (ONE
statement, and one more that checks the post is visible to the caller), and a comment with its
author for the writes that change it."""

from typing import Any

from sqlalchemy import ColumnElement, and_, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import Select

from shared.auth.callers import Caller
from shared.blog.queries import DEFAULT_PAGE_SIZE, post_visibility, visible_post
from shared.blog.schemas import CommentModeratedRead, CommentRead
from shared.errors import NotFound
from shared.models.blog import Comment, ModerationState, Post
from shared.models.users import Role, User
from shared.pagination import keyset, page_of
from shared.schemas import Page, TimeIdPosition, row_id
from shared.users.schemas import UserPublic

# Comments oldest first (posts newest first); the id breaks ties between equal times.
COMMENT_ORDER = (col(Comment.created_at), col(Comment.id))
# The rows a comment read selects: the Comment and its author's name.
CommentRows = Select[Comment, str]


def _row_position(row: Any) -> TimeIdPosition:
    """Where a page of (Comment, author name) rows ended: its last row's (created_at, id)."""
    stored: Comment = row[0]
    return TimeIdPosition(at=stored.created_at, id=row_id(stored))


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
