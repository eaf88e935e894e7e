"""The bulk post operation's request: publish, archive or delete posts chosen by ids or by a filter
(validated before the job is accepted; the job validates its stored arguments again)."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Self

from pydantic import Field, model_validator

from shared.models.blog import PostStatus
from shared.schemas import FromText, RowId, Strict

MAX_BULK_ITEMS = 100_000


class PostAction(StrEnum):
    publish = "publish"
    archive = "archive"
    delete = "delete"


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
