"""Every error leaves as RFC 9457 problem details (`application/problem+json`), one shape.

422 lists each invalid field with its path and rule; 409 names the violated rule;
nothing here ever turns bad input into a 500.
"""

import logging
from http import HTTPStatus
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.errors import (
    Conflict,
    ConstraintViolation,
    DatabaseUnavailable,
    DomainError,
    NotFound,
    OutcomeUnknown,
    PermissionDenied,
    TooManyRequests,
    lost_a_race,
    unavailable,
)
from shared.schemas import InvalidCursor

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
# At most this many field errors in one answer (a 100,000-item body with every item wrong would
# otherwise answer megabytes); `error_count` says how many there were.
MAX_REPORTED_ERRORS = 100


class FieldError(BaseModel):
    field: str
    message: str
    type: str


class Problem(BaseModel):
    type: str = "about:blank"
    title: str
    status: int
    detail: str
    rule: str | None = None
    errors: list[FieldError] | None = Field(default=None, description=f"The first {MAX_REPORTED_ERRORS} at most.")
    error_count: int | None = Field(default=None, description="How many field errors there were in all.")


def problem_response(
    status: int,
    detail: str,
    *,
    rule: str | None = None,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    error_count: int | None = None,
) -> JSONResponse:
    """`errors` beyond MAX_REPORTED_ERRORS are dropped; `error_count` (default: how many were
    given) says how many there were."""
    body = Problem(
        title=HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        rule=rule,
        errors=errors[:MAX_REPORTED_ERRORS] if errors is not None else None,
        error_count=error_count if error_count is not None else (len(errors) if errors is not None else None),
    )
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


def _field_path(location: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in location)


async def on_validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    found = error.errors()
    # Only the errors shown become objects: 100,000 bad bulk items need not build 100,000.
    errors = [
        FieldError(field=_field_path(e["loc"]), message=e["msg"], type=e["type"]) for e in found[:MAX_REPORTED_ERRORS]
    ]
    summary = "; ".join(f"{e.field}: {e.message}" for e in errors[:5])
    more = f" (and {len(found) - 5} more)" if len(found) > 5 else ""
    return problem_response(422, f"invalid input: {summary}{more}", errors=errors, error_count=len(found))


async def on_http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    return problem_response(error.status_code, str(error.detail), headers=getattr(error, "headers", None))


async def on_domain_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DomainError)
    if isinstance(error, DatabaseUnavailable):
        return _unavailable(request, error)
    if isinstance(error, NotFound):
        return problem_response(404, error.message)
    if isinstance(error, PermissionDenied):
        return problem_response(403, error.message)
    if isinstance(error, TooManyRequests):
        return problem_response(
            429, error.message, rule=error.rule, headers={"Retry-After": str(error.retry_after_seconds)}
        )
    if isinstance(error, InvalidCursor):
        return problem_response(
            422, error.message, errors=[FieldError(field="query.cursor", message=error.message, type="cursor")]
        )
    if isinstance(error, Conflict):
        return problem_response(409, error.message, rule=error.rule)
    if isinstance(error, ConstraintViolation):
        errors = [FieldError(field=f, message=error.message, type=error.kind) for f in error.fields] or None
        # A broken uniqueness or reference contradicts existing state (409); a value outside
        # its rule is invalid input (422), caught here when validation upstream missed it.
        status = 409 if error.kind in ("unique", "foreign_key", "other") else 422
        return problem_response(status, error.message, rule=error.constraint, errors=errors)
    return problem_response(400, error.message)


def _unavailable(request: Request, error: DatabaseUnavailable) -> JSONResponse:
    """503 with Retry-After: nothing was done (or, at COMMIT, nobody can know: say so)."""
    headers = {"Retry-After": str(error.retry_after_seconds)}
    if not isinstance(error, OutcomeUnknown):
        return problem_response(503, f"{error.message}; nothing was changed, retry shortly", headers=headers)
    logger.warning("commit outcome unknown on %s %s: %s", request.method, request.url.path, error.message)
    if request.headers.get("idempotency-key"):
        advice = "retry with the same Idempotency-Key: if it was applied, its first response is replayed"
    else:
        advice = "check whether it was applied before retrying"
    return problem_response(
        503,
        f"{error.message} while committing: the outcome is unknown; {advice}",
        rule="outcome_unknown",
        headers=headers,
    )


# A value PostgreSQL cannot take (an id past int4, a NUL character: class 22) is bad input;
# a deadlock or serialization failure (class 40, shared.errors.lost_a_race) may simply be retried.
_DATA_ERROR_CLASS = "22"


async def on_database_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DBAPIError)
    if (cause := unavailable(error)) is not None:
        return _unavailable(request, cause)
    sqlstate = getattr(error.orig, "sqlstate", None) or ""
    cause = error.orig.__cause__ if error.orig is not None else None
    if sqlstate.startswith(_DATA_ERROR_CLASS) or isinstance(cause, asyncpg.DataError):
        logger.info("data error on %s %s: %s", request.method, request.url.path, cause or error.orig)
        return problem_response(422, "a value is outside what this field can hold (too large, or an invalid character)")
    if lost_a_race(error):
        return problem_response(
            409,
            "a concurrent change got in the way; retry the request",
            rule="concurrent_update",
            headers={"Retry-After": "1"},
        )
    return await on_unexpected_error(request, error)


async def on_unexpected_error(request: Request, error: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    return problem_response(500, "internal error; it has been logged")


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(DomainError, on_domain_error)
    app.add_exception_handler(DBAPIError, on_database_error)
    app.add_exception_handler(Exception, on_unexpected_error)


# What every route that reads a request body may answer before its own rules are looked at, so
# their OpenAPI says so: 400 when FastAPI cannot even decode the body (bytes that are not UTF-8:
# "There was an error parsing the body"; text that is not JSON is a 422 naming `body`), 413 past
# MAX_BODY_BYTES (MAX_BULK_BODY_BYTES for the bulk job routes; services.api.limits).
BODY_ERRORS = (400, 413)


# Documented on every router, so OpenAPI shows the problem shape for each error status.
def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        status: {"model": Problem, "description": HTTPStatus(status).phrase, "content": {PROBLEM_JSON: {}}}
        for status in statuses
    }
