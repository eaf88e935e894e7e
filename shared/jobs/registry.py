"""Every job, cron job and outbox handler, collected from their declarations: the jobs
infrastructure's own (shared.jobs.sweepers: the generic outbox job and the sweepers) and each
domain's `jobs.py` (found through shared.domains, never listed). What is derived from them is
derived here, once, and nowhere written by hand: each queue's worker functions and cron jobs
(services.worker.main), the queue a function is enqueued on, the recorded functions, the handler of
each outbox topic.

Lazy on purpose: the domains' jobs.py import shared.jobs, so this module imports no domain (and not
the sweepers) when it loads; each collector imports them the first time it is asked, and keeps the
answer.
"""

import importlib
from collections.abc import Mapping
from functools import cache
from types import ModuleType
from typing import TypeVar

from shared import domains
from shared.jobs.queues import Queue
from shared.jobs.spec import CronSpec, JobSpec, OutboxHandler
from shared.models.jobs import OutboxTopic

# The jobs infrastructure's own declarations, beside the domains'.
INFRASTRUCTURE_JOBS = "shared.jobs.sweepers"

_Declared = TypeVar("_Declared", JobSpec, CronSpec)


@cache
def _declaring_modules() -> tuple[ModuleType, ...]:
    return (importlib.import_module(INFRASTRUCTURE_JOBS), *domains.modules("jobs"))


def _collected(attribute: str, kind: type[_Declared]) -> tuple[_Declared, ...]:
    found: dict[str, _Declared] = {}
    for module in _declaring_modules():
        for declared in getattr(module, attribute):
            if not isinstance(declared, kind):
                raise TypeError(f"{module.__name__}.{attribute} holds {declared!r}, not a {kind.__name__}")
            if declared.name in found:  # arq knows a function by its name alone
                raise ValueError(f"{declared.name!r} is declared twice (again in {module.__name__}.{attribute})")
            found[declared.name] = declared
    return tuple(found.values())


@cache
def jobs() -> tuple[JobSpec, ...]:
    """Every job (each module's JOBS), in declaration order."""
    return _collected("JOBS", JobSpec)


@cache
def crons() -> tuple[CronSpec, ...]:
    """Every periodic job (each module's CRONS)."""
    return _collected("CRONS", CronSpec)


@cache
def outbox_handlers() -> Mapping[OutboxTopic, OutboxHandler]:
    """The handler of each outbox topic (each module's OUTBOX_HANDLERS); one per topic."""
    found: dict[OutboxTopic, OutboxHandler] = {}
    for module in _declaring_modules():
        handlers: Mapping[OutboxTopic, OutboxHandler] = module.OUTBOX_HANDLERS
        for topic, handler in handlers.items():
            if topic in found:
                raise ValueError(f"outbox topic {topic!r} has two handlers (again in {module.__name__})")
            found[OutboxTopic(topic)] = handler
    return found


def outbox_handler(topic: OutboxTopic | str) -> OutboxHandler:
    try:
        return outbox_handlers()[OutboxTopic(topic)]
    except (KeyError, ValueError):
        raise LookupError(f"no jobs.py handles outbox topic {topic!r}") from None


@cache
def _by_name() -> Mapping[str, JobSpec]:
    return {spec.name: spec for spec in jobs()}


def job(name: str) -> JobSpec:
    """The declaration of the job arq knows as `name` (a name read back from a job record or Redis)."""
    try:
        return _by_name()[name]
    except KeyError:
        raise LookupError(f"no jobs.py declares a job {name!r}") from None


def jobs_of(queue: Queue) -> tuple[JobSpec, ...]:
    return tuple(spec for spec in jobs() if spec.queue == queue)


def crons_of(queue: Queue) -> tuple[CronSpec, ...]:
    return tuple(spec for spec in crons() if spec.queue == queue)


@cache
def function_queues() -> Mapping[str, Queue]:
    """Job function name -> the queue it is enqueued on (and its worker runs it from)."""
    return {spec.name: spec.queue for spec in jobs()}


@cache
def recorded_functions() -> frozenset[str]:
    """The functions whose callers were promised a result (a 202): each takes `record_id`."""
    return frozenset(spec.name for spec in jobs() if spec.recorded)
