"""Reads sent as one pipelined round trip, each reply read back by the name it was asked under, and
the decoding of the replies (bytes, hashes, integers written as text).

A pipeline answers with a list in the order of its commands. Read by position, every section of a
read had to know how many commands the sections before it had sent; here each command is queued
under a name, and each section decodes its own replies by name, whatever else shares the trip:

    batch = Batch(redis)
    batch("ready", queue).zcount(queue, "-inf", now)
    batch("workers").zrevrange(keys.WORKERS, 0, 99)
    replies = await batch.execute()
    replies["ready", queue], replies["workers"]
"""

from collections.abc import Callable
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

# A reply's name: a word, or a word and what it is about (a queue, a job id, a minute, ...).
Name = str | tuple[str, str | int]
Replies = dict[Name, Any]
T = TypeVar("T")
# What a section of a read returns once it has queued its commands: how to read its replies.
Decoder = Callable[[Replies], T]


class Batch:
    """Read-only commands for one round trip (transaction=False: no MULTI, nothing is written)."""

    def __init__(self, redis: Redis) -> None:
        self._pipe: Pipeline = redis.pipeline(transaction=False)
        self._names: list[Name] = []

    def __call__(self, name: str, about: str | int | None = None) -> Pipeline:
        """The pipeline, to queue exactly one command whose reply is read back as `name` (or
        `name, about`)."""
        self._check()
        self._names.append(name if about is None else (name, about))
        return self._pipe

    def _check(self) -> None:
        if len(self._names) != len(self._pipe.command_stack):
            last = self._names[-1] if self._names else None
            raise RuntimeError(f"each named reply needs exactly one command (the last name: {last!r})")

    async def execute(self) -> Replies:
        self._check()
        if len(set(self._names)) != len(self._names):
            raise RuntimeError("two commands were queued under one name")
        async with self._pipe as pipe:
            replies = await pipe.execute()
        return dict(zip(self._names, replies, strict=True))


def text(value: bytes | str | None) -> str | None:
    if value is None:
        return None
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def decoded_hash(raw: dict[bytes, bytes]) -> dict[str, str]:
    return {k.decode(): v.decode(errors="replace") for k, v in raw.items()}


def int_of(value: str | None, default: int = 0) -> int:
    """A counter or timestamp written as text; a missing or unreadable one as `default`."""
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default
