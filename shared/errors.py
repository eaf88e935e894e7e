"""Typed domain errors, and the translation of database constraint violations into them.

Code below the edge raises these; the API turns them into 404/409/422 responses and
the worker into a failed job with a readable message. A raw IntegrityError never
escapes: `constraint_errors()` wraps every flush and commit.
"""

import importlib
import importlib.util
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Literal

import asyncpg
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError


class DomainError(Exception):
    """Base of every error the domain raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    def __init__(self, entity: str, ident: object) -> None:
        super().__init__(f"{entity} {ident} does not exist")
        self.entity = entity
        self.ident = ident


class Conflict(DomainError):
    """The request is well-formed but contradicts the current state (HTTP 409)."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


class PermissionDenied(DomainError):
    """The caller is known but may not do this (HTTP 403)."""


class TooManyRequests(DomainError):
    """The caller has used up a rate limit (HTTP 429 with Retry-After): nothing was done."""

    def __init__(self, message: str, *, retry_after_seconds: int, rule: str) -> None:
        super().__init__(message)
        self.retry_after_seconds = max(1, retry_after_seconds)
        self.rule = rule


class DatabaseUnavailable(DomainError):
    """PostgreSQL cannot do this now: unreachable, starting up or shutting down, the connection
    lost, no pooled connection free in time, or a lock or statement past its bound (HTTP 503:
    nothing was done, retry later)."""

    def __init__(self, message: str, *, retry_after_seconds: int = 2, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds
        self.sqlstate = sqlstate  # PostgreSQL's, when it said why (57014: a statement past its timeout)


class OutcomeUnknown(DatabaseUnavailable):
    """The connection failed during COMMIT: the transaction may have committed or not (HTTP 503)."""


# SQLSTATEs meaning "not now" rather than "not this": connection exceptions (class 08),
# too many connections, the server shutting down, crashed or starting up, and our own bounds.
_UNAVAILABLE_SQLSTATES = {
    "53300": "the database has no connection slot free",
    "57P01": "the database is shutting down",
    "57P02": "the database crashed and is restarting",
    "57P03": "the database is starting up or shutting down",
    "57014": "the request's database work took longer than its statement timeout",
    "55P03": "a lock this request needs was held by someone else longer than its lock timeout",
}


# A deadlock or serialization failure: the transaction lost a race and may simply be retried.
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})


def lost_a_race(error: BaseException) -> bool:
    return isinstance(error, DBAPIError) and getattr(error.orig, "sqlstate", None) in RETRYABLE_SQLSTATES


def unavailable(error: BaseException) -> DatabaseUnavailable | None:
    """`error` as a DatabaseUnavailable if it means PostgreSQL could not serve now, else None."""
    if isinstance(error, DatabaseUnavailable):
        return error
    if isinstance(error, SQLAlchemyTimeoutError):  # the pool had no connection free in time
        return DatabaseUnavailable("no database connection became free in time; the service is saturated")
    if isinstance(error, DBAPIError):
        sqlstate = getattr(error.orig, "sqlstate", None) or ""
        if sqlstate in _UNAVAILABLE_SQLSTATES:
            retry = 1 if sqlstate in ("57014", "55P03") else 2
            return DatabaseUnavailable(_UNAVAILABLE_SQLSTATES[sqlstate], retry_after_seconds=retry, sqlstate=sqlstate)
        if sqlstate.startswith("08") or error.connection_invalidated:
            return DatabaseUnavailable("the connection to the database was lost")
        return None
    # asyncpg raises these itself while connecting (SQLAlchemy passes them through unwrapped).
    if isinstance(error, OSError | TimeoutError | asyncpg.PostgresConnectionError | asyncpg.InterfaceError):
        return DatabaseUnavailable("the database cannot be reached")
    if isinstance(error, asyncpg.PostgresError) and getattr(error, "sqlstate", "") in _UNAVAILABLE_SQLSTATES:
        return DatabaseUnavailable(_UNAVAILABLE_SQLSTATES[error.sqlstate])
    return None


ConstraintKind = Literal["unique", "check", "foreign_key", "not_null", "invalid_value", "other"]


@dataclass(frozen=True)
class Rule:
    fields: tuple[str, ...]
    message: str


def rules() -> dict[str, Rule]:
    """What each named constraint means to a person: every domain's RULES (shared/<domain>/rules.py),
    read once, when a constraint is first translated (the domains import this module)."""
    return _rules()


@cache
def _rules() -> dict[str, Rule]:
    from shared.domains import DOMAINS

    found: dict[str, Rule] = {}
    for domain in DOMAINS:
        if importlib.util.find_spec(f"shared.{domain}.rules") is None:
            continue  # a package still without the domain file set (tests/test_domains.py says which)
        module = importlib.import_module(f"shared.{domain}.rules")
        for name, rule in getattr(module, "RULES", {}).items():
            if name in found:
                raise RuntimeError(f"constraint {name} has rules in two domains")
            found[name] = rule
    return found


_SQLSTATE_KIND: dict[str, ConstraintKind] = {
    "23505": "unique",
    "23514": "check",
    "23503": "foreign_key",
    "23502": "not_null",
    "22001": "invalid_value",  # string too long for its column
    "22003": "invalid_value",  # number out of range for its column
    "22021": "invalid_value",  # a character the database cannot store (NUL)
}

# asyncpg's detail for unique/FK violations: "Key (name, secret_identity)=(Ann, A) already exists."
_KEY_DETAIL = re.compile(r"Key \((?P<columns>.+?)\)=\((?P<values>.*)\)")


class ConstraintViolation(DomainError):
    """A write broke a database rule. `constraint` is its name, `fields` the columns it guards."""

    def __init__(
        self,
        *,
        kind: ConstraintKind,
        constraint: str | None,
        table: str | None,
        fields: tuple[str, ...],
        message: str,
        value: str | None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.constraint = constraint
        self.table = table
        self.fields = fields
        self.value = value


def translate(error: DBAPIError) -> ConstraintViolation:
    """Turn SQLAlchemy's IntegrityError (wrapping asyncpg's) into a ConstraintViolation."""
    cause = error.orig.__cause__ if error.orig is not None else None
    sqlstate = getattr(cause, "sqlstate", None) or getattr(error.orig, "sqlstate", None) or ""
    constraint = getattr(cause, "constraint_name", None)
    table = getattr(cause, "table_name", None)
    column = getattr(cause, "column_name", None)
    detail = getattr(cause, "detail", None) or ""
    kind = _SQLSTATE_KIND.get(sqlstate, "other")

    rule = rules().get(constraint or "")
    value = None
    if match := _KEY_DETAIL.search(detail):
        value = match.group("values")
    if rule is not None:
        fields, message = rule.fields, rule.message
    elif kind == "not_null" and column:
        fields, message = (column,), f"{column} is required"
    else:
        fields = (column,) if column else ()
        message = getattr(cause, "message", None) or str(error.orig)
    if value is not None and kind in ("unique", "foreign_key"):
        message = f"{message} ({value})"
    return ConstraintViolation(
        kind=kind, constraint=constraint, table=table, fields=fields, message=message, value=value
    )


@contextmanager
def constraint_errors() -> Iterator[None]:
    """Wrap a flush or commit: a violated constraint leaves as a ConstraintViolation."""
    try:
        yield
    except IntegrityError as error:
        raise translate(error) from error
    except DBAPIError as error:
        # A value the column cannot hold (too long, out of range) is bad input too.
        if getattr(error.orig, "sqlstate", None) in _SQLSTATE_KIND:
            raise translate(error) from error
        raise
