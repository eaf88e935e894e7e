"""Typed domain errors, and the translation of database constraint violations into them.

Code below the edge raises these; the API turns them into 404/409/422 responses and
the worker into a failed job with a readable message. A raw IntegrityError never
escapes: `constraint_errors()` wraps every flush and commit.
"""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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


# What each named constraint means to a person. Names come from the naming
# convention in shared/models/base.py, so they are stable across migrations.
RULES: dict[str, Rule] = {
    "uq_hero_name_secret_identity": Rule(
        ("name", "secret_identity"), "a hero with this name and secret identity already exists"
    ),
    "ck_hero_positive_age": Rule(("age",), "age must be greater than 0"),
    "ck_hero_valid_power_level": Rule(("power_level",), "power level must be between 0 and 100"),
    "ck_hero_name_not_secret": Rule(("name",), 'name cannot be "secret" (in any case)'),
    "ck_hero_young_hero_power": Rule(("age", "power_level"), "a hero under 18 cannot have a power level above 50"),
    "fk_hero_team_id_team": Rule(("team_id",), "the team does not exist"),
    "uq_team_name": Rule(("name",), "a team with this name already exists"),
    "fk_item_hero_id_hero": Rule(("hero_id",), "the hero does not exist"),
    "uq_transfer_log_idempotency_key": Rule(("idempotency_key",), "this transfer was already logged"),
    "uq_category_parent_id_name": Rule(("name",), "a sibling category already has this name"),
    "ck_category_not_own_parent": Rule(("parent_id",), "a category cannot be its own parent"),
    "fk_category_parent_id_category": Rule(("parent_id",), "the parent category does not exist or still has children"),
    "ck_product_price_not_negative": Rule(("price",), "price cannot be negative"),
    "fk_product_category_id_category": Rule(("category_id",), "the category does not exist"),
    "uq_tag_taggable_type_taggable_id_name": Rule(("name",), "the item already has this tag"),
    "ck_tag_taggable_type_valid": Rule(("taggable_type",), "taggable_type must be 'article' or 'image'"),
    "fk_tag_taggable": Rule(("taggable_id",), "the tagged item does not exist"),
    "uq_student_email_lower": Rule(("email",), "a student with this email already exists"),
    "uq_course_code": Rule(("code",), "a course with this code already exists"),
    "pk_enrollment": Rule(("student_id", "course_id"), "the student is already enrolled in this course"),
    "fk_enrollment_student_id_student": Rule(("student_id",), "the student does not exist"),
    "fk_enrollment_course_id_course": Rule(("course_id",), "the course does not exist"),
    "ck_enrollment_grade_valid": Rule(("grade",), "grade must be A-D with an optional + or -, or F"),
    "ck_enrollment_year_valid": Rule(("year",), "year must be between 1900 and 2200"),
    "ck_enrollment_semester_valid": Rule(("semester",), "semester must be spring, summer, fall or winter"),
    "uq_user_account_username": Rule(("username",), "this username is taken"),
    "uq_user_account_email_lower": Rule(("email",), "a user with this email already exists"),
    "ck_user_account_username_length": Rule(("username",), "username must be 3 to 50 characters"),
    "ck_user_account_role_valid": Rule(("role",), "role must be author, moderator or admin"),
    "ck_post_status_valid": Rule(("status",), "status must be draft, published or archived"),
    "fk_post_author_id_user_account": Rule(("author_id",), "the author does not exist or still has posts"),
    "fk_post_category_id_category": Rule(("category_id",), "the category does not exist"),
    "fk_comment_post_id_post": Rule(("post_id",), "the post does not exist"),
    "fk_comment_author_id_user_account": Rule(("author_id",), "the author does not exist or still has comments"),
    "fk_article_author_id_user_account": Rule(("author_id",), "the author does not exist or still has articles"),
    "fk_image_author_id_user_account": Rule(("author_id",), "the author does not exist or still has images"),
}

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

    rule = RULES.get(constraint or "")
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
