"""Bulk post operations' SQL: publish, archive or delete posts chosen by ids or by a filter (the
request: shared.blog.bulk_schemas).

One statement per job, whatever the count; re-running changes nothing (rows already in
the target state are not selected, deleted rows are gone). Deleted posts take their
comments with them (ON DELETE CASCADE).
"""

from typing import Any

from sqlalchemy import ColumnElement, Integer, any_, delete, func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.blog.bulk_schemas import BulkPostRequest, PostAction
from shared.catalog.queries import subtree_ids
from shared.models.base import now_utc
from shared.models.blog import Comment, Post, PostStatus
from shared.sql import array_param

TARGET_STATUS = {PostAction.publish: PostStatus.published, PostAction.archive: PostStatus.archived}


def _selection(request: BulkPostRequest) -> list[ColumnElement[bool]]:
    if request.ids is not None:
        return [col(Post.id) == any_(array_param("ids", request.ids, Integer()))]
    chosen = request.filter
    assert chosen is not None
    conditions: list[ColumnElement[bool]] = []
    if chosen.status is not None:
        conditions.append(col(Post.status) == chosen.status)
    if chosen.older_than is not None:
        conditions.append(col(Post.created_at) < chosen.older_than)
    if chosen.author_id is not None:
        conditions.append(col(Post.author_id) == chosen.author_id)
    if chosen.category_id is not None:
        tree = subtree_ids(chosen.category_id)
        conditions.append(col(Post.category_id).in_(select(tree.c.id)))
    return conditions


async def run(session: AsyncSession, request: BulkPostRequest) -> dict[str, Any]:
    conditions = _selection(request)
    if request.action == PostAction.delete:
        # One statement: the DELETE as a CTE, and its posts' comments counted from the same
        # snapshot (the cascade removes them after), so the two figures always agree.
        deleted = delete(Post).where(*conditions).returning(col(Post.id)).cte("deleted")
        counts = select(
            select(func.count()).select_from(deleted).scalar_subquery(),
            select(func.count())
            .select_from(Comment)
            .where(col(Comment.post_id).in_(select(deleted.c.id)))
            .scalar_subquery(),
        )
        posts, comments = (await session.exec(counts)).one()
        return {"action": request.action, "deleted": posts, "comments_deleted": comments}
    target = TARGET_STATUS[request.action]
    statement = (
        update(Post)
        .where(*conditions, col(Post.status) != target)
        .values(status=target, updated_at=now_utc())
        .returning(col(Post.id))
    )
    changed = len((await session.exec(statement)).scalars().all())
    return {"action": request.action, target.value: changed}
