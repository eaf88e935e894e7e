"""Every error leaves as RFC 9457 problem details (`application/problem+json`), one shape.

422 lists each invalid field with its path and rule; 409 names the violated rule;
nothing here ever turns bad input into a 500. A body sent without `Content-Type: application/json`,
or JSON sent to the login form, is a 422 that says what to send instead.

The OpenAPI document says so too (`document_problems`): every error response carries the Problem
schema under `application/problem+json`, the media type actually sent.
"""

import logging
from http import HTTPStatus
from typing import Any

import asyncpg
from fastapi import FastAPI, Request, params
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
    """One invalid input."""

    field: str = Field(description="Where: `body.heroes.3.age`, `query.cursor`, `path.post_id`, `body`.")
    message: str = Field(description="What is wrong with it, for people.")
    type: str = Field(description="The rule it broke, for programs: `missing`, `string_too_long`, ...")


class Problem(BaseModel):
    """RFC 9457 problem details: the body of every error answer (`application/problem+json`)."""

    type: str = Field(default="about:blank", description="Always `about:blank`: `status` and `title` say it all.")
    title: str = Field(description="The HTTP status phrase.", examples=["Unprocessable Entity"])
    status: int = Field(description="The HTTP status code, repeated.", examples=[422])
    detail: str = Field(
        description="What went wrong with this request, for people.",
        examples=["invalid input: body.title: String should have at least 1 character"],
    )
    rule: str | None = Field(
        default=None,
        description="The rule refused, for programs: a constraint name on 409 (`uq_team_name`), or"
        " `write_limit`, `concurrent_update`, `outcome_unknown`, ...",
    )
    errors: list[FieldError] | None = Field(
        default=None, description=f"Each invalid input (422): the first {MAX_REPORTED_ERRORS} at most."
    )
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


# What a JSON body must be sent with; FastAPI reads any other (or none) as bytes, which no body
# model accepts ("Input should be a valid dictionary").
NOT_JSON_HINT = "the body must be JSON, sent with `Content-Type: application/json`"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
FORM_HINT = (
    "this route takes form data, not JSON: send `Content-Type: application/x-www-form-urlencoded`"
    " with username=...&password=... (the OAuth2 password flow)"
)


def _content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _takes_a_form(request: Request) -> bool:
    """Whether the matched route reads its body as a form (the OAuth2 login)."""
    body_field = getattr(request.scope.get("route"), "body_field", None)
    return body_field is not None and isinstance(body_field.field_info, params.Form)


def _field_error(request: Request, found: dict[str, Any]) -> FieldError:
    if tuple(found["loc"]) == ("body",) and isinstance(found.get("input"), bytes | bytearray):
        # The body came as bytes: its Content-Type was not JSON's.
        sent = _content_type(request) or "none"
        return FieldError(field="body", message=f"{NOT_JSON_HINT} (Content-Type sent: {sent})", type="content_type")
    return FieldError(field=_field_path(found["loc"]), message=found["msg"], type=found["type"])


async def on_validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    found = error.errors()
    # Only the errors shown become objects: 100,000 bad bulk items need not build 100,000.
    errors = [_field_error(request, e) for e in found[:MAX_REPORTED_ERRORS]]
    summary = "; ".join(f"{e.field}: {e.message}" for e in errors[:5])
    more = f" (and {len(found) - 5} more)" if len(found) > 5 else ""
    hint = ""
    if _takes_a_form(request) and _content_type(request) not in FORM_TYPES:
        hint = f"; {FORM_HINT}"
    return problem_response(422, f"invalid input: {summary}{more}{hint}", errors=errors, error_count=len(found))


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
            422, error.message, errors=[FieldError(field=error.field, message=error.message, type="cursor")]
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
    if (down := unavailable(error)) is not None:
        return _unavailable(request, down)
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
    document_problems(app)


# What every route that reads a request body may answer before its own rules are looked at, so
# their OpenAPI says so: 400 when FastAPI cannot even decode the body (bytes that are not UTF-8:
# "There was an error parsing the body"; text that is not JSON is a 422 naming `body`), 413 past
# MAX_BODY_BYTES (MAX_BULK_BODY_BYTES for the bulk job routes; services.api.limits).
BODY_ERRORS = (400, 413)

PROBLEM_REF = "#/components/schemas/Problem"


# Documented on every router, so OpenAPI shows the problem shape for each error status. The model
# puts the Problem schema in the document; FastAPI files it under the route's media type
# (application/json), and document_problems moves it to application/problem+json.
def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": Problem, "description": HTTPStatus(status).phrase} for status in statuses}


def _problem_content() -> dict[str, Any]:
    return {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}}


def document_problems(app: FastAPI) -> None:
    """Make the app's OpenAPI document say what its error answers are, once, when it is built:

    - every error response's Problem schema under `application/problem+json`, not `application/json`;
    - 422 where, and only where, an operation takes input: FastAPI documents its own 422
      (HTTPValidationError) on each operation with parameters or a body (no router declares 422);
      it is the Problem here, and FastAPI's error shapes leave the document."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = build()
        for path_item in document.get("paths", {}).values():
            for operation in path_item.values():
                for code, response in operation.get("responses", {}).items():
                    content = response.get("content", {})
                    if code == "422" and "HTTPValidationError" in str(content):
                        response["description"] = HTTPStatus.UNPROCESSABLE_ENTITY.phrase
                        response["content"] = _problem_content()
                    elif content.get("application/json", {}).get("schema") == {"$ref": PROBLEM_REF}:
                        del content["application/json"]
                        content.update(_problem_content())
        schemas = document.get("components", {}).get("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        return document

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend its schema
