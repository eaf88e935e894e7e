"""Post and comment writes: ownership, visibility and moderation rules. Flush only; the edge commits."""

from sqlmodel.ext.asyncio.session import AsyncSession

from shared.auth.access import ensure_owner_or_admin
from shared.auth.callers import Caller
from shared.blog.comment_queries import comment_with_author, moderated_comment_read
from shared.blog.moderation import ensure_may_moderate
from shared.blog.queries import insert_post, read_post, visible_post
from shared.blog.schemas import (
    CommentCreate,
    CommentModeratedRead,
    CommentUpdate,
    ModerationDecision,
    PostCreate,
    PostRead,
    PostUpdate,
)
from shared.db import flush
from shared.jobs import outbox
from shared.models.base import now_utc
from shared.models.blog import Comment, ModerationState, Post
from shared.models.jobs import OutboxTopic
from shared.users.schemas import UserPublic


async def create_post(session: AsyncSession, author: Caller, data: PostCreate) -> PostRead:
    """A post by `author`, written and read back in ONE statement (Core INSERT ... RETURNING): the
    author is the caller and a new post has no comments, so nothing else needs reading. An unknown
    category is refused by its foreign key (409, named rule)."""
    now = now_utc()
    post_id, category = await insert_post(session, data, author_id=author.id, now=now)
    return PostRead(
        id=post_id,
        title=data.title,
        content=data.content,
        status=data.status,
        created_at=now,
        updated_at=now,
        author=UserPublic(id=author.id, username=author.username),
        category=category,
        approved_comment_count=0,
    )


async def _own_post(session: AsyncSession, post_id: int, caller: Caller) -> Post:
    # Hidden posts answer 404 before ownership is looked at, so a draft's existence does not leak.
    post = await visible_post(session, post_id, caller)
    ensure_owner_or_admin(caller, post.author_id, "post")
    return post


async def update_post(session: AsyncSession, post_id: int, caller: Caller, data: PostUpdate) -> PostRead:
    post = await _own_post(session, post_id, caller)
    for field, value in data.model_dump(exclude_unset=True).items():
        setattr(post, field, value)
    await flush(session)  # updated_at is stamped by the column's onupdate
    return await read_post(session, post_id, caller)


async def delete_post(session: AsyncSession, post_id: int, caller: Caller) -> None:
    """Delete the post; the database drops its comments (ON DELETE CASCADE)."""
    post = await _own_post(session, post_id, caller)
    await session.delete(post)
    await flush(session)


async def create_comment(
    session: AsyncSession, post_id: int, author: Caller, data: CommentCreate
) -> CommentModeratedRead:
    """A pending comment and, in the same transaction, the outbox row asking for its moderation:
    both commit or neither does, so no comment waits for a job that was never recorded."""
    await visible_post(session, post_id, author)
    comment = Comment(content=data.content, post_id=post_id, author_id=author.id)
    session.add(comment)
    await flush(session)
    # The row is the durable intent; its job is enqueued once this transaction commits.
    await outbox.record(session, OutboxTopic.comment_moderation, {"comment_id": comment.id})
    return moderated_comment_read(comment, author.username)


async def moderate_comment(
    session: AsyncSession, comment_id: int, moderator: Caller, decision: ModerationDecision
) -> CommentModeratedRead:
    """Record a moderator's decision; it names the moderator, which automatic moderation respects."""
    comment, author_name = await comment_with_author(session, comment_id, moderator, for_update=True)
    ensure_may_moderate(moderator, comment.author_id)  # nobody decides their own comment (403)
    comment.moderation_state = decision.state
    comment.moderation_reason = decision.reason
    comment.moderated_at = now_utc()
    comment.moderated_by_id = moderator.id
    await flush(session)
    return moderated_comment_read(comment, author_name)


async def edit_comment(
    session: AsyncSession, comment_id: int, caller: Caller, data: CommentUpdate
) -> CommentModeratedRead:
    """The author (or an admin) rewrites a comment. New text is new content: it goes back to
    pending and to moderation (an approved comment cannot be swapped for spam), in one commit."""
    comment, author_name = await comment_with_author(session, comment_id, caller, for_update=True)
    ensure_owner_or_admin(caller, comment.author_id, "comment")
    if data.content != comment.content:
        comment.content = data.content
        comment.moderation_state = ModerationState.pending
        comment.moderation_reason = None
        comment.moderated_at = None
        comment.moderated_by_id = None
        await flush(session)
        await outbox.record(session, OutboxTopic.comment_moderation, {"comment_id": comment.id})
    return moderated_comment_read(comment, author_name)


async def delete_comment(session: AsyncSession, comment_id: int, caller: Caller) -> None:
    comment, _ = await comment_with_author(session, comment_id, caller, for_update=True)
    ensure_owner_or_admin(caller, comment.author_id, "comment")
    await session.delete(comment)
    await flush(session)
