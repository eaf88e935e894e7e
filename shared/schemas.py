"""Bases and helpers shared by every domain's request/response shapes."""

import base64
import binascii
import json
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict
from sqlmodel import SQLModel

from shared.errors import DomainError


class Strict(SQLModel):
    """Base of request bodies: unknown fields are refused, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


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
