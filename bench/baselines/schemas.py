"""Request and response bodies shared by the FastAPI baselines (the Starlette one parses by hand)."""

from datetime import datetime
from typing import Literal

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
