"""A job, declared once, in its domain's `jobs.py` (shared/<domain>/jobs.py): the function, the
queue it runs on, how often it may be tried, and whether it finishes a durable job record. The
worker's function lists and cron jobs, which queue the API enqueues a function on, and which
functions are recorded are all derived from these declarations (shared.jobs.registry), never
written a second time.

A job function is a thin door into its domain, as a route is: `async def name(ctx, **arguments)`,
taking its transaction from `ctx` (shared.jobs.context) and returning a JSON-able result.

An outbox handler (OutboxHandler) says what processing a row of its topic means; the generic job
(shared.jobs.outbox.process_outbox_message) finds it by the row's topic.
"""

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from arq.typing import WorkerCoroutine
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.jobs.queues import Queue
from shared.models.jobs import OutboxMessage
from shared.settings import Settings

# `async def name(ctx, **arguments)`: what arq runs (its own protocol, so the worker takes it as is).
JobFunction = WorkerCoroutine
# What processing one outbox row means, in the job's transaction (which marks the row processed).
Handler = Callable[[AsyncSession, OutboxMessage, Settings], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class JobSpec:
    """A job the API (or another job) enqueues by this spec, never by a string."""

    function: JobFunction
    queue: Queue
    max_tries: int
    # How long arq keeps the result; None: the worker's default (an hour on the short queue).
    keep_result_seconds: int | None = None
    # Its callers were promised a result (a 202): it takes `record_id` and finishes that job record
    # (shared.jobs.records), and the record is the truth about it, whatever Redis keeps.
    recorded: bool = False

    def __post_init__(self) -> None:
        if self.recorded and "record_id" not in inspect.signature(self.function).parameters:
            raise TypeError(f"{self.name}: a recorded job takes the record's id as `record_id`")

    @property
    def name(self) -> str:
        # arq knows a function by its __qualname__ (arq.worker.func); a module-level one's is its name.
        return self.function.__qualname__


@dataclass(frozen=True)
class CronSpec:
    """A periodic job (a sweeper): run every `every_seconds` on `queue`'s workers, at start-up
    too, at most one run at a time across workers, each run bounded by `timeout_seconds`."""

    function: JobFunction
    queue: Queue
    every_seconds: int
    timeout_seconds: int

    def __post_init__(self) -> None:
        # Run at the seconds of each minute that are multiples of every_seconds (arq's cron).
        if not 0 < self.every_seconds <= 60 or 60 % self.every_seconds:
            raise ValueError(f"{self.name}: every_seconds must divide 60, not {self.every_seconds}")

    @property
    def name(self) -> str:
        # arq names a cron job's runs `cron:<function name>`.
        return f"cron:{self.function.__qualname__}"


@dataclass(frozen=True)
class OutboxHandler:
    """A topic's handler. Each row gets its own run of the generic outbox job (id `outbox:<row>`),
    unless `batch` is given: then the rows committed within one window of `batch_window_ms` share
    one run of that job, which processes every waiting row of the topic (a row the sweeper sends
    again still gets its own run, and `handle` processes it)."""

    handle: Handler
    batch: JobSpec | None = None
    batch_window_ms: int = 0

    def __post_init__(self) -> None:
        if (self.batch is None) != (self.batch_window_ms == 0):
            raise ValueError("a batched topic needs both its job and a window (batch_window_ms > 0)")
