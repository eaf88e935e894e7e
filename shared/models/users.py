"""Users: accounts, their roles and their token generation."""

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, Index, String, Text, func, text
from sqlmodel import Field, Relationship, SQLModel

from shared.models.base import RAISE, created_at_field, one_of

if TYPE_CHECKING:
    from shared.models.blog import Comment, Post


class Role(StrEnum):
    author = "author"
    moderator = "moderator"
    # Sees every ops view (queues, jobs, the dashboard) and acts on none; outside ops, an author.
    operator = "operator"
    admin = "admin"


class User(SQLModel, table=True):
    # "user" is a reserved word in PostgreSQL; a plain name keeps raw SQL unquoted.
    __tablename__ = "user_account"
    __table_args__ = (
        CheckConstraint("char_length(username) BETWEEN 3 AND 50", name="username_length"),
        # Emails are unique whatever their case: the index is on lower(email).
        Index("uq_user_account_email_lower", func.lower(text("email")), unique=True),
        one_of("role", Role, "role_valid"),
    )

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=50, unique=True)
    email: str = Field(max_length=320)
    hashed_password: str = Field(sa_type=Text)
    role: str = Field(default=Role.author, sa_type=String(20), sa_column_kwargs={"server_default": "author"})
    is_active: bool = Field(default=True, sa_column_kwargs={"server_default": text("true")})
    # Every token carries the generation it was issued in; a password change, a deactivation or a
    # role change moves it on, and with it every token issued before is refused (shared.auth).
    token_generation: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})
    created_at: datetime = created_at_field()

    posts: list["Post"] = Relationship(back_populates="author", sa_relationship_kwargs={"lazy": RAISE})
    comments: list["Comment"] = Relationship(
        back_populates="author",
        sa_relationship_kwargs={"lazy": RAISE, "foreign_keys": "Comment.author_id"},
    )
