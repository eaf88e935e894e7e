"""The job serializer: JSON on both sides, never pickle.

Pickle in Redis would let anyone who can write to Redis run code in the worker, and
would make every key unreadable to tools not written in Python. JSON keeps keys
readable (`redis-cli GET arq:job:<id>`), and a failed job's exception is stored as
data, `{"type", "message", "traceback"}`, instead of arq's "unable to serialize result".
"""

import json
import traceback
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

ERROR_MARKER = "__error__"


class JobError(Exception):
    """A failed job's exception as read back from Redis (the original class is not rebuilt)."""

    def __init__(self, type_: str, message: str, traceback_text: str) -> None:
        super().__init__(message)
        self.type = type_
        self.message = message
        self.traceback = traceback_text


def error_data(error: BaseException) -> dict[str, str]:
    return {
        "type": type(error).__name__,
        "message": str(error),
        "traceback": "".join(traceback.format_exception(error)),
    }


def _to_json(value: Any) -> Any:
    if isinstance(value, BaseException):
        return {ERROR_MARKER: error_data(value)}
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    raise TypeError(f"cannot serialize {type(value).__name__} into a job")


def _from_json(obj: dict[str, Any]) -> Any:
    if ERROR_MARKER in obj and len(obj) == 1:
        error = obj[ERROR_MARKER]
        return JobError(error["type"], error["message"], error["traceback"])
    return obj


def serialize(data: Any) -> bytes:
    return json.dumps(data, default=_to_json, separators=(",", ":")).encode()


def deserialize(raw: bytes) -> Any:
    return json.loads(raw, object_hook=_from_json)
