"""Request and response shapes for posts and comments (never the table classes themselves)."""

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import BaseModel, Field, ValidationInfo, field_validator, model_validator

from shared.models.blog import ModerationState, PostStatus
from shared.schemas import FromText, RowId, StoredText, Strict, omittable
from shared.users.schemas import UserPublic

TITLE_MAX = 200
CONTENT_MAX = 100_000
COMMENT_MAX = 10_000  # the database's ck_comment_content_length
REASON_MAX = 500  # the column's length


class PostCreate(Strict):
    title: StoredText = Field(min_length=1, max_length=TITLE_MAX, description="The post's title.")
    content: StoredText = Field(min_length=1, max_length=CONTENT_MAX, description="The post's text.")
    status: Annotated[PostStatus, FromText] = Field(
        default=PostStatus.draft, description="`draft` (only you and admins see it), `published` or `archived`."
    )
    category_id: RowId | None = Field(default=None, description="The post's category, if any.")


class PostUpdate(Strict):
    """A partial update: only the fields sent change; `category_id: null` removes the category."""

    title: StoredText | None = omittable(min_length=1, max_length=TITLE_MAX, description="A new title.")
    content: StoredText | None = omittable(min_length=1, max_length=CONTENT_MAX, description="A new text.")
    status: Annotated[PostStatus, FromText] | None = omittable(description="`draft`, `published` or `archived`.")
    category_id: RowId | None = Field(default=None, description="A new category; null removes the category.")

    @model_validator(mode="after")
    def no_explicit_nulls_for_required(self) -> Self:
        for field in ("title", "content", "status"):
            if field in self.model_fields_set and getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null")
        return self


@dataclass(frozen=True)
class PostFilters:
    """The filters of the post list (GET /posts): every one optional."""

    status: PostStatus | None = None
    author_id: int | None = None
    category_id: int | None = None
    include_subcategories: bool = False
    q: str | None = None


class PostCategory(BaseModel):
    id: int
    name: str


class PostRead(BaseModel):
    id: int
    title: str
    content: str
    status: PostStatus
    created_at: datetime
    updated_at: datetime
    author: UserPublic
    category: PostCategory | None
    approved_comment_count: int


class CommentCreate(Strict):
    content: StoredText = Field(
        min_length=1, max_length=COMMENT_MAX, description="The comment's text; it waits for moderation."
    )


class CommentUpdate(CommentCreate):
    """An author's edit: the new text goes back to moderation."""


class CommentRead(BaseModel):
    """What anyone sees of an (approved) comment."""

    id: int
    post_id: int
    content: str
    created_at: datetime
    author: UserPublic


class CommentModeratedRead(CommentRead):
    """What moderators see: the comment and the state of its moderation."""

    moderation_state: ModerationState
    moderation_reason: str | None
    moderated_at: datetime | None
    moderated_by_id: int | None


class ModerationDecision(Strict):
    """A moderator's verdict. Going back to pending is not a decision, so it is not accepted."""

    state: Literal["approved", "rejected"] = Field(description="The verdict.")
    reason: StoredText | None = Field(
        default=None,
        min_length=1,
        max_length=REASON_MAX,
        validate_default=True,
        description="Why: required when rejecting, shown to moderators.",
    )

    @field_validator("reason")
    @classmethod
    def rejection_needs_a_reason(cls, reason: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("state") == ModerationState.rejected and (reason is None or not reason.strip()):
            raise ValueError("a reason is required when rejecting a comment")
        return reason
