"""User shapes. The password hash never leaves the server: no Read schema carries it."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from shared.models.users import Role


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(
        min_length=3, max_length=50, pattern=r"^[A-Za-z0-9_.-]+$", description="Unique; letters, digits, _ . -"
    )
    email: EmailStr = Field(max_length=320, description="Unique.")
    password: str = Field(min_length=8, max_length=256, description="At least 8 characters.")
    role: Role = Field(default=Role.author, description="What the user may do.")


class UserUpdate(BaseModel):
    """What an admin may change of a user; either change revokes the user's tokens."""

    model_config = ConfigDict(extra="forbid")

    is_active: bool | None = Field(default=None, description="false: the user can no longer log in.")
    role: Role | None = Field(default=None, description="A new role.")


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(min_length=1, max_length=256, description="The password in use now.")
    new_password: str = Field(min_length=8, max_length=256, description="At least 8 characters.")


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    email: str
    role: Role
    is_active: bool
    created_at: datetime


class UserPublic(BaseModel):
    """What anyone may see of another user (an author on a post, say)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str


class Token(BaseModel):
    access_token: str = Field(description="Send it as `Authorization: Bearer <access_token>`.")
    token_type: str = Field(default="bearer", description="Always `bearer`.")
    expires_in: int = Field(description="Seconds until the token expires.", examples=[3600])
