"""Reading a job's function, try and enqueue time from the first and last bytes of its definition.

arq writes {"t": try, "f": function, "a": args, "k": kwargs, "et": enqueued ms}, and the JSON
serializer keeps that order, so GETRANGE on the head and the tail is enough: the (possibly huge)
arguments in between are never transferred for a listing.
"""

import re
from dataclasses import dataclass

from shared.ops import keys
from shared.ops.batch import Batch, Decoder, Replies

HEAD_BYTES = 256
TAIL_BYTES = 32
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


def ask_heads(batch: Batch, job_ids: list[str]) -> Decoder[dict[str, JobHead]]:
    """The function, try and enqueue time of each job, from the head and tail of its definition."""
    job_ids = list(dict.fromkeys(job_ids))  # each read once, though a job may be listed twice
    for job_id in job_ids:
        batch("head", job_id).getrange(keys.job(job_id), 0, HEAD_BYTES - 1)
        batch("tail", job_id).getrange(keys.job(job_id), -TAIL_BYTES, -1)

    def decode(replies: Replies) -> dict[str, JobHead]:
        heads: dict[str, JobHead] = {}
        for job_id in job_ids:
            head = heads[job_id] = peek_head(replies["head", job_id])
            head.enqueued_ms = peek_tail(replies["tail", job_id])
        return heads

    return decode
