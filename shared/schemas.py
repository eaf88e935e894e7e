"""Bases and helpers shared by every domain's request/response shapes."""

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, Protocol, TypeVar

from annotated_types import GroupedMetadata, Interval, MaxLen, MinLen
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)
from pydantic import Strict as StrictMode
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


# A body field read from its JSON text form under `Strict`: an enum's value, an ISO time, a
# decimal string. (Strict mode would want the Python object itself, which JSON cannot carry.)
FromText = StrictMode(False)


@dataclass(frozen=True, slots=True)
class Trimmed(GroupedMetadata):
    """`Annotated[str, Trimmed(max_length)]`: text stored without its surrounding whitespace
    (`normalize`, which may also change case), at most `max_length` characters as sent, as its
    schema says (pydantic's strip_whitespace checks the length after trimming, so " " + 200
    characters passed a maxLength of 200), and not empty once trimmed. Pydantic reads the
    constraints in this order: the length as sent, the normalizing, the length once trimmed."""

    max_length: int
    normalize: Callable[[str], str] = str.strip

    def __iter__(self) -> Iterator[object]:
        yield MaxLen(self.max_length)
        yield AfterValidator(self.normalize)
        yield MinLen(1)


def _without_null(schema: dict[str, Any]) -> None:
    options = schema.pop("anyOf", None)
    if options is not None:
        kept = [option for option in options if option.get("type") != "null"]
        if len(kept) == 1:
            schema.update(kept[0])
        else:
            schema["anyOf"] = kept
    schema.pop("default", None)


def describe(**descriptions: str) -> Callable[[dict[str, Any]], None]:
    """A model's `json_schema_extra` describing fields it inherits (from a table's base class, say),
    whose Field() it does not declare: `model_config = ConfigDict(json_schema_extra=describe(name=...))`."""

    def add(schema: dict[str, Any]) -> None:
        for name, description in descriptions.items():
            schema["properties"][name].setdefault("description", description)

    return add


def omittable(**constraints: Any) -> Any:
    """A PATCH field that may be left out (it is then None, and not in `model_fields_set`) but
    never sent as null (the model refuses that, 422 "cannot be null"). Its OpenAPI schema says
    so: the type alone, no null, no default."""
    return Field(default=None, json_schema_extra=_without_null, **constraints)


class Strict(SQLModel):
    """Base of request bodies: unknown fields are refused, not silently dropped; no type is
    juggled (strict mode: `true` is not 1, `"1.5"` is not a number, `1.5` is not an int, an
    int is a float); text PostgreSQL cannot store (NUL) is bad input (422). Fields read from a
    JSON string (enums, times, decimals) say so with `FromText`."""

    model_config = ConfigDict(extra="forbid", strict=True)  # type: ignore[assignment]  # SQLModel types it SQLModelConfig (ConfigDict plus table keys); as a ConfigDict, bodies may set theirs

    @field_validator("*", mode="after")
    @classmethod
    def no_nul_characters(cls, value: Any) -> Any:
        return refuse_nul(value)


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a keyset-paginated list; pass `next_cursor` back as `cursor` for the next."""

    items: list[T]
    next_cursor: str | None = None


class _Stored(Protocol):
    @property
    def id(self) -> int | None: ...


def row_id(row: _Stored) -> int:
    """The id of a row read from the database: a cursor position needs it (only a row never
    flushed has none)."""
    if row.id is None:
        raise ValueError(f"a {type(row).__name__} without an id has never been stored")
    return row.id


class InvalidCursor(DomainError):
    """The client sent a cursor this service did not make (HTTP 422 on `field`)."""

    def __init__(self, field: str = "query.cursor") -> None:
        super().__init__(f"{field.removeprefix('query.')} is not valid: pass back a next cursor exactly as received")
        self.field = field


def _storable_time(value: datetime) -> datetime:
    # A client may hand-craft a cursor: keep its time where PostgreSQL and Python can hold it
    # (year 1 at +14:00 is year 0 in UTC, which Python cannot even represent).
    if not 1900 <= value.year <= 9000:
        raise ValueError("time out of range")
    return value


CursorTime = Annotated[AwareDatetime, AfterValidator(_storable_time)]
# A time a client sends (a query parameter, a filter): ISO 8601 text with its offset, never a
# number, which pydantic would otherwise read as epoch seconds.
_NUMBER = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*")


def _iso_text(value: object) -> object:
    if isinstance(value, datetime) or (isinstance(value, str) and not _NUMBER.fullmatch(value)):
        return value
    raise ValueError("a time is ISO 8601 text with its UTC offset, e.g. 2026-12-04T18:00:00Z")


IsoTime = Annotated[CursorTime, BeforeValidator(_iso_text)]
P = TypeVar("P", bound="CursorPosition")


class CursorPosition(BaseModel):
    """A keyset position (the sort key of the last row served), sent to clients as an opaque
    cursor. Decoding validates it like any input: a cursor is client data."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def encode(self) -> str:
        raw = json.dumps(self.model_dump(mode="json"), separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls: type[P], cursor: str | None, *, field: str = "query.cursor") -> P | None:
        """The position, None for no cursor, InvalidCursor (naming `field`) for anything this
        service did not make."""
        if cursor is None:
            return None
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            return cls.model_validate_json(base64.urlsafe_b64decode(padded.encode()), strict=True)
        except (binascii.Error, ValueError, UnicodeDecodeError) as error:  # ValidationError is a ValueError
            raise InvalidCursor(field) from error


class IdPosition(CursorPosition):
    id: RowId


class TimeIdPosition(CursorPosition):
    """(time, id): lists ordered by a timestamp, the id breaking ties."""

    at: CursorTime
    id: RowId


class NamePosition(CursorPosition):
    name: Annotated[str, StringConstraints(max_length=200), AfterValidator(refuse_nul)]
