"""Request and response shapes for articles, images and their tags.

Tag names are trimmed and lower-cased on the way in ("  Python " and "python" are one tag),
1..50 characters each (the table's CHECK), at most MAX_TAGS per request; duplicates after
normalizing collapse into one. `GET /tags/{name}` normalizes its name the same way.
"""

from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, StringConstraints, model_validator
from pydantic import Field as PydanticField
from sqlmodel import Field, SQLModel

from shared.models.tagging import ArticleStatus, TaggableType
from shared.schemas import CursorPosition, FromText, Page, RowId, Strict, Trimmed, omittable, refuse_nul

MAX_TAGS = 50
TAG_NAME_MAX = 50

# NUL is refused here: Strict's own NUL check sees a field's value, not the items of a list.
TagName = Annotated[str, Trimmed(TAG_NAME_MAX, lambda name: name.strip().lower()), AfterValidator(refuse_nul)]
TagNames = Annotated[list[TagName], PydanticField(max_length=MAX_TAGS)]
Title = Annotated[str, Trimmed(200)]
Content = Annotated[str, StringConstraints(max_length=100_000)]


def normalize_tag(name: str) -> str:
    """The stored form of a tag name (what TagName does to request bodies)."""
    return name.strip().lower()


class TagsReplace(Strict):
    """The item's complete new tag set; [] removes every tag."""

    tags: TagNames = Field(description=f"At most {MAX_TAGS} names, trimmed and lower-cased.")


class ArticleCreate(Strict):
    title: Title = Field(description="The article's title; trimmed.")
    content: Content = Field(description="The article's text.")
    status: Annotated[ArticleStatus, FromText] = Field(
        default=ArticleStatus.draft, description="`draft` (only you and admins see it) or `published`."
    )
    tags: TagNames = Field(default=[], description=f"At most {MAX_TAGS} names, trimmed and lower-cased.")


class ArticleUpdate(Strict):
    """A partial update by the author (or an admin); publishing is `{"status": "published"}`."""

    title: Title | None = omittable(description="A new title; trimmed.")
    content: Content | None = omittable(description="A new text.")
    status: Annotated[ArticleStatus, FromText] | None = omittable(description="`draft` or `published`.")

    @model_validator(mode="after")
    def no_explicit_nulls(self) -> Self:
        for field in ("title", "content", "status"):
            if field in self.model_fields_set and getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null")
        return self


class ArticleRead(SQLModel):
    id: int
    title: str
    content: str
    author_id: int
    status: ArticleStatus
    created_at: datetime
    updated_at: datetime
    tags: list[str] = Field(default_factory=list, description="tag names, sorted")


Filename = Annotated[str, Trimmed(255)]
AltText = Annotated[str, StringConstraints(max_length=500)]


class ImageCreate(Strict):
    filename: Filename = Field(description="The image's file name; trimmed.")
    alt_text: AltText = Field(description="The text that stands for the image.")
    tags: TagNames = Field(default=[], description=f"At most {MAX_TAGS} names, trimmed and lower-cased.")


class ImageUpdate(Strict):
    """A partial update by the author (or an admin); tags are replaced with PUT .../tags."""

    filename: Filename | None = omittable(description="A new file name; trimmed.")
    alt_text: AltText | None = omittable(description="A new alt text.")

    @model_validator(mode="after")
    def no_explicit_nulls(self) -> Self:
        for field in ("filename", "alt_text"):
            if field in self.model_fields_set and getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null")
        return self


class ImageRead(SQLModel):
    id: int
    filename: str
    alt_text: str
    author_id: int
    created_at: datetime
    tags: list[str] = Field(default_factory=list, description="tag names, sorted")


class TaggedArticle(SQLModel):
    type: Literal["article"] = "article"
    id: int
    title: str
    author_id: int
    status: ArticleStatus
    created_at: datetime


class TaggedImage(SQLModel):
    type: Literal["image"] = "image"
    id: int
    filename: str
    alt_text: str
    author_id: int
    created_at: datetime


# One entry of GET /tags/{name}: an article or an image, told apart by `type`.
TaggedItemRead = Annotated[TaggedArticle | TaggedImage, PydanticField(discriminator="type")]


class TaggedItemPage(Page[TaggedItemRead]):
    """One page of GET /tags/{name} (a named class, so OpenAPI names the schema readably)."""


class TypeIdPosition(CursorPosition):
    """Where a page of tagged items ended: items are ordered by (type, id)."""

    type: TaggableType
    id: RowId
