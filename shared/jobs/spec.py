"""A job, declared once, in its domain's `jobs.py` (shared/<domain>/jobs.py): the function, the
queue it runs on, how often it may be tried, and whether it finishes a durable job record. The
worker's function lists and cron jobs, which queue the API enqueues a function on, and which
functions are recorded are all derived from these declarations (shared.jobs.registry), never
written a second time.

A job function is a thin door into its domain, as a route is: `async def name(ctx, **arguments)`,
taking its transaction from `ctx` (shared.jobs.context) and returning a JSON-able result.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from shared.jobs.queues import Queue

JobFunction = Callable[..., Awaitable[Any]]


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

    @property
    def name(self) -> str:
        return self.function.__name__


@dataclass(frozen=True)
class CronSpec:
    """A periodic job (a sweeper): run every `every_seconds` on `queue`'s workers, at start-up
    too, at most one run at a time across workers, each run bounded by `timeout_seconds`."""

    function: JobFunction
    queue: Queue
    every_seconds: int
    timeout_seconds: int

    @property
    def name(self) -> str:
        # arq names a cron job's runs `cron:<function name>`.
        return f"cron:{self.function.__name__}"
