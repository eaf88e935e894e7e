"""Request and response bodies shared by the FastAPI baselines (the Starlette one parses by hand)."""

import base64
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class PostCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    content: str = Field(min_length=1)
    status: Literal["draft", "published", "archived"] = "draft"
    category_id: int | None = None


class PostRead(BaseModel):
    # from_attributes: the sqlmodel baselines hand back table objects.
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    content: str
    status: str
    created_at: datetime
    updated_at: datetime
    author_id: int
    category_id: int | None


class TransferRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to_team_id: int | None


class TransferRead(BaseModel):
    """The TransferLog row written in the transfer's own transaction."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    hero_id: int
    from_team_id: int | None
    to_team_id: int | None
    transfer_date: datetime
    logged_at: datetime


# The read endpoints answer exactly what Guildhall's PostRead and Page[PostRead] hold
# (shared/blog/schemas.py): the author and the category nested, the approved-comment count.
class PostAuthor(BaseModel):
    id: int
    username: str


class PostCategory(BaseModel):
    id: int
    name: str


class PostDetail(BaseModel):
    id: int
    title: str
    content: str
    status: str
    created_at: datetime
    updated_at: datetime
    author: PostAuthor
    category: PostCategory | None
    approved_comment_count: int


class PostPage(BaseModel):
    items: list[PostDetail]
    next_cursor: str | None = None


class PagePosition(BaseModel):
    """Where a page ended, as Guildhall's cursor holds it: (created_at, id), newest first."""

    at: datetime
    id: int


def post_detail(row: Mapping[str, Any]) -> PostDetail:
    """A read row (the post's columns, `username`, `category_name`, `approved_comment_count`)."""
    category_id = row["category_id"]
    return PostDetail(
        id=row["id"],
        title=row["title"],
        content=row["content"],
        status=row["status"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        author=PostAuthor(id=row["author_id"], username=row["username"]),
        category=None if category_id is None else PostCategory(id=category_id, name=row["category_name"]),
        approved_comment_count=row["approved_comment_count"],
    )


def post_page(rows: Sequence[Mapping[str, Any]], limit: int) -> PostPage:
    """`limit` posts of `rows` (fetched with one more, to tell whether a next page exists) and,
    when it does, the cursor Guildhall would send: url-safe base64 of the last post's position."""
    items = [post_detail(row) for row in rows[:limit]]
    cursor = None
    if len(rows) > limit:
        last = items[-1]
        raw = PagePosition(at=last.created_at, id=last.id).model_dump_json().encode()
        cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return PostPage(items=items, next_cursor=cursor)
