"""Bases and helpers shared by every domain's request/response shapes."""

import base64
import binascii
import json
from typing import Annotated, Any, Generic, TypeVar

from annotated_types import Interval
from pydantic import AfterValidator, BaseModel, ConfigDict, field_validator
from sqlmodel import SQLModel

from shared.errors import DomainError

# PostgreSQL INTEGER. A larger id can name no row, and asyncpg would refuse to send it (a 500),
# so it is refused as input instead (422): in bodies, paths and queries alike.
INT4_MAX = 2**31 - 1
RowId = Annotated[int, Interval(ge=1, le=INT4_MAX)]


def refuse_nul(value: Any) -> Any:
    # PostgreSQL text cannot hold U+0000; asyncpg's refusal would otherwise surface as a 500.
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("text cannot contain the NUL character (U+0000)")
    return value


# Text that reaches the database, for parameters outside a Strict body (paths, queries).
StoredText = Annotated[str, AfterValidator(refuse_nul)]


class Strict(SQLModel):
    """Base of request bodies: unknown fields are refused, not silently dropped, and text
    PostgreSQL cannot store (NUL) is bad input (422)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def no_nul_characters(cls, value: Any) -> Any:
        return refuse_nul(value)


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a keyset-paginated list; pass `next_cursor` back as `cursor` for the next."""

    items: list[T]
    next_cursor: str | None = None


class InvalidCursor(DomainError):
    """The client sent a cursor this service did not make (HTTP 422 on `cursor`)."""

    def __init__(self) -> None:
        super().__init__("cursor is not valid: pass back a next_cursor exactly as received")


def encode_cursor(position: dict[str, Any]) -> str:
    """An opaque cursor for a keyset position (the sort key of the last row served)."""
    return base64.urlsafe_b64encode(json.dumps(position, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, required: set[str]) -> dict[str, Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        position = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as error:
        raise InvalidCursor from error
    if not isinstance(position, dict) or not required <= position.keys():
        raise InvalidCursor
    return position
