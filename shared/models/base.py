"""Metadata conventions and column helpers shared by every table."""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, Table, func, inspect
from sqlalchemy.orm import InstrumentedAttribute
from sqlmodel import Field, SQLModel

# Every constraint and index gets a predictable name, so migrations can address
# them and shared.errors can map a violated constraint to a domain error.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION

# Every relationship refuses implicit loading: under asyncio a lazy load is a bug
# (MissingGreenlet at best, an N+1 at worst), so load explicitly or fail loudly.
RAISE = "raise"


def now_utc() -> datetime:
    return datetime.now(UTC)


# Timestamps are stamped in Python (one clock for insert and update, values known without
# a round trip); the server default covers rows written by raw SQL.
def created_at_field() -> Any:
    return Field(
        default_factory=now_utc,
        sa_type=DateTime(timezone=True),
        sa_column_kwargs={"server_default": func.now(), "nullable": False},
    )


def updated_at_field() -> Any:
    return Field(
        default_factory=now_utc,
        sa_type=DateTime(timezone=True),
        sa_column_kwargs={"server_default": func.now(), "onupdate": now_utc, "nullable": False},
    )


def one_of(column: str, values: type[StrEnum], name: str) -> CheckConstraint:
    """CHECK that `column` holds one of the enum's values (VARCHAR + CHECK, no PG enum type,
    so adding a value is a one-line migration)."""
    allowed = ", ".join(f"'{member.value}'" for member in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=name)


def table_of(model: type[SQLModel]) -> Table:
    """The Core Table of a table class (`model.__table__`, which SQLModel does not declare to the
    type checker), for statements that skip the ORM."""
    table = inspect(model).local_table
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not mapped to one table")
    return table


def attribute(value: object) -> InstrumentedAttribute[Any]:
    """A table class's attribute (`Hero.name`, `Enrollment.course`) typed as what it is at run time:
    sqlmodel types `Hero.name` as a str and `Enrollment.course` as a Course, and col() as a Mapped,
    which has no `key` and which loader options (contains_eager, selectinload) do not take."""
    if not isinstance(value, InstrumentedAttribute):
        raise TypeError(f"not a mapped attribute: {value!r}")
    return value
