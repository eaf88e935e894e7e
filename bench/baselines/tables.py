"""Minimal SQLModel tables for the sqlmodel baselines, mapped onto the tables Guildhall's
migrations created (only the columns these endpoints touch are declared).

They live in their own registry, hence their own MetaData: nothing of `shared.models` is reused,
and the class names cannot collide with Guildhall's in one process (tests import both).
"""

from datetime import UTC, datetime

from sqlalchemy import DateTime
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel


def now_utc() -> datetime:
    return datetime.now(UTC)


class BaselineModel(SQLModel, registry=registry()):
    pass


class Post(BaselineModel, table=True):
    __tablename__ = "post"

    id: int | None = Field(default=None, primary_key=True)
    title: str
    content: str
    status: str = "draft"
    # Stamped in Python as the reference document does; the columns are NOT NULL.
    created_at: datetime = Field(default_factory=now_utc, sa_type=DateTime(timezone=True))
    updated_at: datetime = Field(default_factory=now_utc, sa_type=DateTime(timezone=True))
    author_id: int
    category_id: int | None = None


class Hero(BaselineModel, table=True):
    __tablename__ = "hero"

    id: int | None = Field(default=None, primary_key=True)
    name: str
    secret_identity: str
    age: int
    power_level: float
    team_id: int | None = None


class TransferLog(BaselineModel, table=True):
    __tablename__ = "transfer_log"

    id: int | None = Field(default=None, primary_key=True)
    hero_id: int
    from_team_id: int | None = None
    to_team_id: int | None = None
    transfer_date: datetime = Field(default_factory=now_utc, sa_type=DateTime(timezone=True))
    requested_by_id: int | None = None
    idempotency_key: str | None = None
    logged_at: datetime = Field(default_factory=now_utc, sa_type=DateTime(timezone=True))


# What the read endpoints join to: a post's author (their name), its category (its name) and its
# comments (the approved ones are counted).
class User(BaselineModel, table=True):
    __tablename__ = "user_account"

    id: int | None = Field(default=None, primary_key=True)
    username: str


class Category(BaselineModel, table=True):
    __tablename__ = "category"

    id: int | None = Field(default=None, primary_key=True)
    name: str


class Comment(BaselineModel, table=True):
    __tablename__ = "comment"

    id: int | None = Field(default=None, primary_key=True)
    post_id: int
    moderation_state: str
