"""Blog: posts and moderated comments."""

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Optional

from sqlalchemy import CheckConstraint, DateTime, Index, String, Text
from sqlmodel import Field, Relationship, SQLModel

from shared.models.base import RAISE, created_at_field, one_of, updated_at_field

if TYPE_CHECKING:
    from shared.models.catalog import Category
    from shared.models.users import User


class PostStatus(StrEnum):
    draft = "draft"
    published = "published"
    archived = "archived"


class ModerationState(StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"


class Post(SQLModel, table=True):
    __table_args__ = (
        Index("ix_post_status_created_at", "status", "created_at"),
        # The post list in its own order (newest first, the id breaking ties) when no status narrows
        # it: an admin's pages, an author's (published OR their own, filtered while walking it).
        # Without it every page sorted the whole table (308 ms at 10^6 posts).
        Index("ix_post_created_at_id", "created_at", "id"),
        # An author's own posts in one status (their drafts), newest first.
        Index("ix_post_author_id_status_created_at", "author_id", "status", "created_at", "id"),
        # Trigram GIN index: serves case-insensitive substring search (title ILIKE '%q%').
        Index("ix_post_title_trgm", "title", postgresql_using="gin", postgresql_ops={"title": "gin_trgm_ops"}),
        CheckConstraint("char_length(title) BETWEEN 1 AND 200", name="title_length"),
        one_of("status", PostStatus, "status_valid"),
    )

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=200)
    content: str = Field(sa_type=Text)
    status: str = Field(default=PostStatus.draft, sa_type=String(20), sa_column_kwargs={"server_default": "draft"})
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
    # RESTRICT: deleting a user with posts must be an explicit decision, not a cascade.
    author_id: int = Field(foreign_key="user_account.id", ondelete="RESTRICT", index=True)
    category_id: int | None = Field(default=None, foreign_key="category.id", ondelete="SET NULL", index=True)

    author: "User" = Relationship(back_populates="posts", sa_relationship_kwargs={"lazy": RAISE})
    category: Optional["Category"] = Relationship(back_populates="posts", sa_relationship_kwargs={"lazy": RAISE})
    comments: list["Comment"] = Relationship(
        back_populates="post", passive_deletes=True, sa_relationship_kwargs={"lazy": RAISE}
    )


class Comment(SQLModel, table=True):
    __table_args__ = (
        # A post's comments in one state (the approved ones anyone sees), oldest first, and their
        # count; and all of them (moderators), oldest first: a page is one range of either.
        Index("ix_comment_post_id_state_created_at", "post_id", "moderation_state", "created_at", "id"),
        Index("ix_comment_post_id_created_at", "post_id", "created_at", "id"),
        one_of("moderation_state", ModerationState, "moderation_state_valid"),
        # A decided comment records when; a pending one has no decision time.
        CheckConstraint("(moderation_state = 'pending') = (moderated_at IS NULL)", name="moderated_at_matches_state"),
        CheckConstraint("char_length(content) BETWEEN 1 AND 10000", name="content_length"),
    )

    id: int | None = Field(default=None, primary_key=True)
    content: str = Field(sa_type=Text)
    created_at: datetime = created_at_field()
    post_id: int = Field(foreign_key="post.id", ondelete="CASCADE")
    author_id: int = Field(foreign_key="user_account.id", ondelete="RESTRICT", index=True)
    moderation_state: str = Field(
        default=ModerationState.pending, sa_type=String(20), sa_column_kwargs={"server_default": "pending"}
    )
    moderation_reason: str | None = Field(default=None, max_length=500)
    moderated_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    # NULL with a decision means the rules decided; a user id means a moderator did,
    # and automatic moderation never overwrites that.
    moderated_by_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")

    post: Post = Relationship(back_populates="comments", sa_relationship_kwargs={"lazy": RAISE})
    author: "User" = Relationship(
        back_populates="comments", sa_relationship_kwargs={"lazy": RAISE, "foreign_keys": "Comment.author_id"}
    )
