"""Request and response shapes for posts and comments (never the table classes themselves)."""

from datetime import datetime
from typing import Annotated, Literal, Self

from annotated_types import Interval
from pydantic import AfterValidator, BaseModel, Field, ValidationInfo, field_validator, model_validator

from shared.models.blog import ModerationState, PostStatus
from shared.schemas import Strict
from shared.users.schemas import UserPublic

TITLE_MAX = 200
CONTENT_MAX = 100_000
COMMENT_MAX = 10_000  # the database's ck_comment_content_length
REASON_MAX = 500  # the column's length
INT4_MAX = 2**31 - 1

# An id as the database stores it (INTEGER): a larger number can name no row, and asyncpg
# would refuse to send it (a 500), so it is refused as input instead (422). Works for
# bodies and for path and query parameters alike.
RowId = Annotated[int, Interval(ge=1, le=INT4_MAX)]


def _without_nul(value: str) -> str:
    # PostgreSQL text cannot hold U+0000; asyncpg's refusal would otherwise surface as a 500.
    if "\x00" in value:
        raise ValueError("text cannot contain the NUL character (U+0000)")
    return value


# Any text that reaches the database: everything but NUL.
StoredText = Annotated[str, AfterValidator(_without_nul)]


class PostCreate(Strict):
    title: StoredText = Field(min_length=1, max_length=TITLE_MAX)
    content: StoredText = Field(min_length=1, max_length=CONTENT_MAX)
    status: PostStatus = PostStatus.draft
    category_id: RowId | None = None


class PostUpdate(Strict):
    """A partial update: only the fields sent change; `category_id: null` removes the category."""

    title: StoredText | None = Field(default=None, min_length=1, max_length=TITLE_MAX)
    content: StoredText | None = Field(default=None, min_length=1, max_length=CONTENT_MAX)
    status: PostStatus | None = None
    category_id: RowId | None = None

    @model_validator(mode="after")
    def no_explicit_nulls_for_required(self) -> Self:
        for field in ("title", "content", "status"):
            if field in self.model_fields_set and getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null")
        return self


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
    content: StoredText = Field(min_length=1, max_length=COMMENT_MAX)


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

    state: Literal["approved", "rejected"]
    reason: StoredText | None = Field(default=None, min_length=1, max_length=REASON_MAX, validate_default=True)

    @field_validator("reason")
    @classmethod
    def rejection_needs_a_reason(cls, reason: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("state") == ModerationState.rejected and (reason is None or not reason.strip()):
            raise ValueError("a reason is required when rejecting a comment")
        return reason
