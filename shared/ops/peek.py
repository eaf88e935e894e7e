"""Reading a job's function, try and enqueue time from the first and last bytes of its definition.

arq writes {"t": try, "f": function, "a": args, "k": kwargs, "et": enqueued ms}, and the JSON
serializer keeps that order, so GETRANGE on the head and the tail is enough: the (possibly huge)
arguments in between are never transferred for a listing.
"""

import re
from dataclasses import dataclass

_HEAD = re.compile(rb'^\{"t":(null|\d+),"f":"((?:[^"\\]|\\.)*)"')
_TAIL = re.compile(rb'"et":(\d+)\}$')


@dataclass
class JobHead:
    function: str | None = None
    tries: int | None = None
    enqueued_ms: int | None = None


def peek_head(head: bytes | None) -> JobHead:
    match = _HEAD.match(head or b"")
    if match is None:
        return JobHead()
    tries = None if match.group(1) == b"null" else int(match.group(1))
    return JobHead(function=match.group(2).decode(errors="replace"), tries=tries)


def peek_tail(tail: bytes | None) -> int | None:
    match = _TAIL.search(tail or b"")
    return int(match.group(1)) if match else None
