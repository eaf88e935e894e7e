"""Polymorphic tags over articles and images, in the reference's shape.

A Tag row points at its item with (taggable_type, taggable_id): a generic foreign key,
which has no referential integrity of its own. The database makes up for it
(migration 0001, migrations/versions/20261124_0001_initial_schema.py):
- CHECK: taggable_type is one of the known types;
- UNIQUE (taggable_type, taggable_id, name): one tag name per item;
- a trigger on tag refuses a tag whose item does not exist (it locks the item row
  FOR KEY SHARE, exactly like a real foreign key, so a concurrent delete cannot slip in);
- statement-level triggers on article and image delete their tags in one statement,
  whether the delete came from the ORM, a bulk DELETE or raw SQL.

The ORM side follows SQLAlchemy's examples/generic_associations/generic_fk.py: a
relationship per type with the discriminator in its primaryjoin, and an append
listener that stamps taggable_type on a new tag.
"""

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Optional

from sqlalchemy import CheckConstraint, Index, String, Text, UniqueConstraint, event, text
from sqlmodel import Field, Relationship, SQLModel

from shared.models.base import RAISE, created_at_field, one_of, updated_at_field


class TaggableType(StrEnum):
    article = "article"
    image = "image"


class ArticleStatus(StrEnum):
    draft = "draft"
    published = "published"


def _tags_of(kind: TaggableType) -> dict[str, object]:
    return {
        "primaryjoin": f"and_(foreign(Tag.taggable_id) == {kind.name.capitalize()}.id, "
        f"Tag.taggable_type == '{kind.value}')",
        "lazy": RAISE,
        # Both relationships write Tag.taggable_id; the discriminator keeps them apart.
        "overlaps": "tags,article,image",
        # Deleting the item deletes its tags in the database (trigger), not row by row here.
        "passive_deletes": True,
        "cascade": "all, delete-orphan",
    }


def _item_of(kind: TaggableType) -> dict[str, object]:
    return {
        "primaryjoin": f"and_(foreign(Tag.taggable_id) == {kind.name.capitalize()}.id, "
        f"Tag.taggable_type == '{kind.value}')",
        "lazy": RAISE,
        "overlaps": "tags,article,image",
        "viewonly": True,
    }


class Tag(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("taggable_type", "taggable_id", "name"),
        Index("ix_tag_name", "name"),
        one_of("taggable_type", TaggableType, "taggable_type_valid"),
        CheckConstraint("char_length(name) BETWEEN 1 AND 50", name="name_length"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=50)
    taggable_type: str = Field(sa_type=String(20))
    taggable_id: int

    article: Optional["Article"] = Relationship(sa_relationship_kwargs=_item_of(TaggableType.article))
    image: Optional["Image"] = Relationship(sa_relationship_kwargs=_item_of(TaggableType.image))

    @property
    def item(self) -> "Article | Image | None":
        """The tagged item, whichever type it is (loaded with the matching relationship)."""
        return self.article if self.taggable_type == TaggableType.article else self.image


class Article(SQLModel, table=True):
    __table_args__ = (
        Index("ix_article_author_id_created_at", "author_id", "created_at"),
        # Partial index: only published rows, the ones public listings read, newest first.
        Index("ix_article_published_created_at", "created_at", postgresql_where=text("status = 'published'")),
        # The list for those who see drafts too (admins; authors, filtered while walking it).
        Index("ix_article_created_at_id", "created_at", "id"),
        # Trigram GIN index serving case-insensitive title search (title ILIKE '%q%').
        Index("ix_article_title_trgm", "title", postgresql_using="gin", postgresql_ops={"title": "gin_trgm_ops"}),
        one_of("status", ArticleStatus, "status_valid"),
        CheckConstraint("char_length(title) BETWEEN 1 AND 200", name="title_length"),
    )

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=200)
    content: str = Field(sa_type=Text)
    author_id: int = Field(foreign_key="user_account.id", ondelete="RESTRICT")
    status: str = Field(default=ArticleStatus.draft, sa_type=String(20), sa_column_kwargs={"server_default": "draft"})
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()

    tags: list[Tag] = Relationship(back_populates="article", sa_relationship_kwargs=_tags_of(TaggableType.article))


class Image(SQLModel, table=True):
    __table_args__ = (
        CheckConstraint("char_length(filename) BETWEEN 1 AND 255", name="filename_length"),
        Index("ix_image_created_at_id", "created_at", "id"),  # the image list, newest first
    )

    id: int | None = Field(default=None, primary_key=True)
    filename: str = Field(max_length=255)
    alt_text: str = Field(max_length=500)
    author_id: int = Field(foreign_key="user_account.id", ondelete="RESTRICT", index=True)
    created_at: datetime = created_at_field()

    tags: list[Tag] = Relationship(back_populates="image", sa_relationship_kwargs=_tags_of(TaggableType.image))


def _stamp_type(kind: TaggableType) -> Callable[[object, Tag, object], Tag]:
    def on_append(target: object, tag: Tag, initiator: object) -> Tag:
        tag.taggable_type = kind.value
        return tag

    return on_append


event.listen(Article.tags, "append", _stamp_type(TaggableType.article), retval=True)
event.listen(Image.tags, "append", _stamp_type(TaggableType.image), retval=True)
