"""Pausing a queue: while `guildhall:paused:<queue>` exists, that queue's workers claim no job and
run no cron (services.worker.pausable checks it once per poll); jobs already running finish. The key
has no expiry, so a pause outlives worker restarts (and API restarts) until an admin resumes the
queue. Its value says since when and by whom; any value pauses (`redis-cli SET
guildhall:paused:guildhall:short 1` too, shown with no one's name).

Pause and resume are admin actions, audited like the others (shared.ops.actions.audit), and
idempotent: pausing a paused queue (or resuming a running one) changes nothing and says so."""

import json
from typing import TypedDict

from redis.asyncio import Redis

from shared.errors import NotFound
from shared.jobs.queues import Queue
from shared.ops import keys
from shared.ops.actions import Actor, audit
from shared.ops.batch import Batch, Decoder, Replies
from shared.ops.clock import at, now_ms
from shared.ops.control_schemas import QueuePauseState
from shared.ops.schemas import QueueStats


class PauseRecord(TypedDict, total=False):
    """The value of guildhall:paused:<queue> (JSON); fields missing when set by hand."""

    at_ms: int
    user: str
    user_id: int | None


def queue_named(name: str) -> Queue:
    """A queue by its name (`guildhall:short`) or its short name (`short`); 404 naming `queue` else."""
    for queue in Queue:
        if name in (queue.value, queue.name):
            return queue
    raise NotFound("queue", name)


def _record(raw: bytes | str | None) -> PauseRecord | None:
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    record = PauseRecord()
    if isinstance(value, dict):
        if isinstance(value.get("at_ms"), int):
            record["at_ms"] = value["at_ms"]
        if isinstance(value.get("user"), str):
            record["user"] = value["user"]
        if isinstance(value.get("user_id"), int):
            record["user_id"] = value["user_id"]
    return record


def _state(queue: Queue, record: PauseRecord | None, *, changed: bool, detail: str) -> QueuePauseState:
    return QueuePauseState(
        queue=queue.value,
        paused=record is not None,
        paused_at=at(record.get("at_ms")) if record else None,
        paused_by=record.get("user") if record else None,
        changed=changed,
        detail=detail,
    )


def _since(record: PauseRecord) -> str:
    when = at(record.get("at_ms"))
    since = when.isoformat(timespec="seconds") if when else "an unknown time"
    return f"since {since}, by {record.get('user') or 'someone'}"


async def pause_queue(redis: Redis, queue: Queue, actor: Actor) -> QueuePauseState:
    """Pause `queue` (SET NX: a pause already in place keeps its time and author)."""
    mine: PauseRecord = {"at_ms": now_ms(), "user": actor.username, "user_id": actor.user_id}
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(keys.paused(queue), json.dumps(mine), nx=True)
        pipe.get(keys.paused(queue))
        was_set, raw = await pipe.execute()
    record = _record(raw)
    if record is None:  # deleted between the two commands of the MULTI: cannot happen, but typed
        record = mine
    changed = bool(was_set)
    if changed:
        detail = f"{queue.value} paused: its workers claim no job from their next poll; running jobs finish"
    else:
        detail = f"{queue.value} was already paused ({_since(record)}): nothing changed"
    await audit(redis, actor, "pause", None, {"queue": queue.value, "changed": changed})
    return _state(queue, record, changed=changed, detail=detail)


async def resume_queue(redis: Redis, queue: Queue, actor: Actor) -> QueuePauseState:
    """Resume `queue`: its workers claim jobs again from their next poll."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.get(keys.paused(queue))
        pipe.delete(keys.paused(queue))
        raw, deleted = await pipe.execute()
    changed = bool(deleted)
    record = _record(raw)
    if changed and record is not None:
        paused_at = record.get("at_ms")
        for_how_long = f" after {(now_ms() - paused_at) / 1000:.0f} s" if paused_at else ""
        detail = f"{queue.value} resumed{for_how_long} (paused {_since(record)})"
    else:
        detail = f"{queue.value} was not paused: nothing changed"
    await audit(redis, actor, "resume", None, {"queue": queue.value, "changed": changed})
    return _state(queue, None, changed=changed, detail=detail)


async def is_paused(redis: Redis, queue: str) -> bool:
    """What a worker asks once per poll: one EXISTS."""
    return bool(await redis.exists(keys.paused(queue)))


def ask_pauses(batch: Batch, queues: tuple[str, ...]) -> Decoder[dict[str, PauseRecord]]:
    """Queue one GET per queue on the summary's first round trip; the paused ones' records."""
    for queue in queues:
        batch("paused", queue).get(keys.paused(queue))

    def read(replies: Replies) -> dict[str, PauseRecord]:
        found = {queue: _record(replies["paused", queue]) for queue in queues}
        return {queue: record for queue, record in found.items() if record is not None}

    return read


def shown(stats: QueueStats, pauses: dict[str, PauseRecord]) -> QueueStats:
    """A queue's summary row, with its pause (if any)."""
    record = pauses.get(stats.queue)
    if record is None:
        return stats
    return stats.model_copy(
        update={"paused": True, "paused_at": at(record.get("at_ms")), "paused_by": record.get("user")}
    )
