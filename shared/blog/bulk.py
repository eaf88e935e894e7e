"""Bulk post operations: publish, archive or delete posts chosen by ids or by a filter.

One statement per job, whatever the count; re-running changes nothing (rows already in
the target state are not selected, deleted rows are gone). Deleted posts take their
comments with them (ON DELETE CASCADE).
"""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import Field, model_validator
from sqlalchemy import ColumnElement, Integer, any_, delete, func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.catalog.queries import subtree_ids
from shared.models.base import now_utc
from shared.models.blog import Comment, Post, PostStatus
from shared.schemas import FromText, RowId, Strict
from shared.sql import array_param

MAX_BULK_ITEMS = 100_000


class PostAction(StrEnum):
    publish = "publish"
    archive = "archive"
    delete = "delete"


TARGET_STATUS = {PostAction.publish: PostStatus.published, PostAction.archive: PostStatus.archived}


class PostFilter(Strict):
    status: Annotated[PostStatus, FromText] | None = None
    older_than: Annotated[datetime, FromText] | None = Field(
        default=None, description="created before this time (with a timezone)"
    )
    author_id: RowId | None = None
    category_id: RowId | None = Field(default=None, description="this category and all below it")

    @model_validator(mode="after")
    def something_is_chosen(self) -> Self:
        # A filter whose conditions are all null would select every post.
        if all(value is None for value in (self.status, self.older_than, self.author_id, self.category_id)):
            raise ValueError("a filter needs at least one non-null condition")
        if self.older_than is not None and self.older_than.utcoffset() is None:
            raise ValueError("older_than needs a timezone (e.g. 2026-01-01T00:00:00Z)")
        return self


class BulkPostRequest(Strict):
    action: Annotated[PostAction, FromText]
    ids: list[RowId] | None = Field(default=None, min_length=1, max_length=MAX_BULK_ITEMS)
    filter: PostFilter | None = None

    @model_validator(mode="after")
    def ids_or_filter(self) -> Self:
        if (self.ids is None) == (self.filter is None):
            raise ValueError("give either ids or filter, not both")
        return self


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
