"""One job as the ops views show it, wherever it is: finished (arq's result, or Guildhall's record
once that expired), running, queued or deferred; with its arguments, result or error, cut to a
preview."""

import json
import re
from typing import Any

from redis.asyncio import Redis

from shared.jobs import progress
from shared.jobs.serialization import ERROR_MARKER
from shared.ops import keys
from shared.ops.batch import Batch, decoded_hash, int_of, text
from shared.ops.clock import at, now_ms
from shared.ops.keys import RecordField
from shared.ops.peek import TAIL_BYTES, peek_head, peek_tail
from shared.ops.queues import ask_placement, progress_of
from shared.ops.schemas import JobDetail, JobErrorDetail, JobStatus

PREVIEW_CHARS = 4_000


def cut(value: str) -> str:
    """A preview: the first PREVIEW_CHARS characters, and an ellipsis if there were more."""
    return value if len(value) <= PREVIEW_CHARS else value[:PREVIEW_CHARS] + "…"


def preview(value: object) -> str:
    return cut(json.dumps(value, default=str))


async def read_job_detail(redis: Redis, job_id: str, *, queues: tuple[str, ...] = keys.QUEUES) -> JobDetail | None:
    """One job, wherever it is. None if Redis knows nothing of it."""
    now = now_ms()
    batch = Batch(redis)
    batch("result").get(keys.result(job_id))
    # The head is read far enough for a preview of the arguments, which follow the function name.
    batch("head").getrange(keys.job(job_id), 0, PREVIEW_CHARS)
    batch("tail").getrange(keys.job(job_id), -TAIL_BYTES, -1)
    batch("retry").get(keys.retry(job_id))
    batch("record").hgetall(progress.key(job_id))
    batch("abort").zscore(keys.ABORT_SET, job_id)
    read_placement = ask_placement(batch, job_id, queues)
    replies = await batch.execute()

    record = decoded_hash(replies["record"])
    common: dict[str, Any] = {
        "id": job_id,
        "worker": record.get(RecordField.worker),
        "retried_as": record.get(RecordField.retried_as),
        "retry_of": record.get(RecordField.retry_of),
        "abort_requested": replies["abort"] is not None,
    }
    if replies["result"] is not None:
        return _finished_detail(json.loads(replies["result"]), record, common)
    if (placement := read_placement(replies)) is not None:
        head: bytes = replies["head"]
        status = placement.status(now)
        retry = replies["retry"]
        return JobDetail(
            status=status,
            function=peek_head(head).function,
            queue=placement.queue,
            tries=int_of(text(retry)) if retry is not None else peek_head(head).tries,
            enqueued_at=at(peek_tail(replies["tail"])),
            run_at=at(placement.run_at_ms),
            started_at=at(int_of(record.get(RecordField.started_ms))) if status == JobStatus.in_progress else None,
            progress=progress_of(record) if status == JobStatus.in_progress else None,
            args_preview=_args_text(head.decode(errors="replace")),
            **common,
        )
    if RecordField.error_type in record:  # arq's result expired or was purged; our failure record remains
        return JobDetail(
            status=JobStatus.failed,
            function=None,
            queue=None,
            tries=int_of(record.get(RecordField.try_)) or None,
            started_at=at(int_of(record.get(RecordField.started_ms))),
            error=JobErrorDetail(
                type=record.get(RecordField.error_type, "Error"),
                message=record.get(RecordField.error_message, ""),
                traceback=record.get(RecordField.traceback, ""),
            ),
            **common,
        )
    return None


def _finished_detail(data: dict[str, Any], record: dict[str, str], common: dict[str, Any]) -> JobDetail:
    success = bool(data.get("s"))
    error: JobErrorDetail | None = None
    if not success:
        raw_error = data.get("r")
        if isinstance(raw_error, dict) and ERROR_MARKER in raw_error:
            details = raw_error[ERROR_MARKER]
            error = JobErrorDetail(
                type=str(details.get("type", "Error")),
                message=str(details.get("message", "")),
                traceback=str(details.get("traceback", "")),
            )
        else:
            error = JobErrorDetail(
                type="Error", message=str(raw_error), traceback=record.get(RecordField.traceback, "")
            )
    started, finished = data.get("st"), data.get("ft")
    return JobDetail(
        status=JobStatus.complete if success else JobStatus.failed,
        function=data.get("f"),
        queue=data.get("q"),
        tries=data.get("t"),
        enqueued_at=at(data.get("et")),
        started_at=at(started),
        finished_at=at(finished),
        duration_ms=finished - started if started and finished else None,
        progress=progress_of(record),
        args_preview=preview({"args": data.get("a", []), "kwargs": data.get("k", {})}),
        result_preview=preview(data.get("r")) if success else None,
        error=error,
        **common,
    )


_ARGS_START = re.compile(r'"a":')


def _args_text(head: str) -> str | None:
    """The JSON from the arguments on (as far as was read), for a glance at a queued job's input."""
    match = _ARGS_START.search(head)
    return cut(head[match.start() :]) if match is not None else None
