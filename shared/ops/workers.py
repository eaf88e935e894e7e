"""The workers as the ops views show them: the registry (guildhall:workers), each worker's health
entry, and its state (running, stalled, stopped, down) judged from its heartbeat."""

from redis.asyncio import Redis

from shared.ops import keys
from shared.ops.batch import Batch, Decoder, Replies, decoded_hash, int_of
from shared.ops.clock import at, now_ms
from shared.ops.keys import Outcome, WorkerField
from shared.ops.schemas import WorkerHealth, WorkerState

WORKER_LIMIT = 100


def ask_registry(batch: Batch) -> Decoder[list[str]]:
    """The names of the workers that heartbeat most recently."""
    batch("workers").zrevrange(keys.WORKERS, 0, WORKER_LIMIT - 1)

    def decode(replies: Replies) -> list[str]:
        return [name.decode() for name in replies["workers"]]

    return decode


def ask_health(batch: Batch, names: list[str]) -> Decoder[dict[str, dict[str, str]]]:
    """Each worker's health entry (empty once it expired)."""
    for name in names:
        batch("worker", name).hgetall(keys.worker(name))

    def decode(replies: Replies) -> dict[str, dict[str, str]]:
        return {name: decoded_hash(replies["worker", name]) for name in names}

    return decode


def worker_health(name: str, raw: dict[str, str], now: int) -> WorkerHealth:
    heartbeat = int_of(raw.get(WorkerField.heartbeat_ms))
    interval = int_of(raw.get(WorkerField.interval_ms), int(keys.HEARTBEAT_SECONDS * 1000))
    state = WorkerState.stopped if raw.get(WorkerField.state) == keys.STOPPED else WorkerState.running
    faulting_since = int_of(raw.get(WorkerField.faulting_since_ms))
    if state == WorkerState.running and now - heartbeat > keys.STALE_AFTER_HEARTBEATS * interval:
        state = WorkerState.down
    elif state == WorkerState.running and faulting_since and now - faulting_since > interval:
        state = WorkerState.stalled
    return WorkerHealth(
        name=name,
        queue=raw.get(WorkerField.queue),
        host=raw.get(WorkerField.host),
        pid=int_of(raw.get(WorkerField.pid)) or None,
        state=state,
        started_at=at(int_of(raw.get(WorkerField.started_ms))),
        heartbeat_age_seconds=max(0.0, (now - heartbeat) / 1000) if heartbeat else None,
        complete=int_of(raw.get(Outcome.complete)),
        failed=int_of(raw.get(Outcome.failed)),
        retried=int_of(raw.get(Outcome.retried)),
        sweeps=int_of(raw.get(keys.SWEEPS)),
        ongoing=int_of(raw.get(WorkerField.ongoing)),
    )


def listed_workers(names: list[str], health: dict[str, dict[str, str]], now: int) -> list[WorkerHealth]:
    """The registry's workers whose health entry is still there."""
    return [worker_health(name, health[name], now) for name in names if health[name]]


async def local_worker_is_up(redis: Redis, queue: str, host: str) -> bool:
    """Whether a worker of `queue` on `host` has a fresh heartbeat (a container's health check)."""
    registry = Batch(redis)
    names = ask_registry(registry)(await registry.execute())
    mine = [name for name in names if keys.host_of(name) == host]
    if not mine:
        return False
    batch = Batch(redis)
    health = ask_health(batch, mine)(await batch.execute())
    return any(
        worker.queue == queue and worker.state == WorkerState.running
        for worker in listed_workers(mine, health, now_ms())
    )
