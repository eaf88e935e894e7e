"""ResilientWorker (services/worker/resilient.py) overrides and calls arq Worker internals that arq
does not promise to keep: these tests fail on an arq whose internals no longer match, instead of a
worker that silently stops renewing leases or leaks job slots under Redis faults. pyproject.toml pins
arq to the versions checked here; widen the pin only once these pass on the new version."""

import asyncio
import inspect
import tomllib
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import arq.constants
import pytest
from arq.worker import Worker, func
from packaging.requirements import Requirement

from services.worker.main import BulkWorkerSettings, WorkerSettings
from services.worker.resilient import ResilientWorker

ROOT = Path(__file__).resolve().parents[2]


def arq_requirement() -> Requirement:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    [spec] = [Requirement(d) for d in dependencies if Requirement(d).name == "arq"]
    return spec


def test_the_installed_arq_is_in_the_pinned_range_and_the_pin_has_an_upper_bound() -> None:
    requirement = arq_requirement()
    assert any(s.operator == "<" for s in requirement.specifier), f"{requirement}: no upper bound"
    assert requirement.specifier.contains(version("arq")), f"arq {version('arq')} is outside {requirement}"


async def _noop(ctx: dict[str, Any]) -> None:
    return None


# The methods ResilientWorker overrides and calls through super(): name -> the parameters it passes.
OVERRIDDEN: dict[str, list[str]] = {
    "main": ["self"],
    "_poll_iteration": ["self"],
    "start_jobs": ["self", "job_ids"],
    "run_cron": ["self", "n", "delay", "num_windows"],  # services.worker.pausable: skipped while paused
}


@pytest.mark.parametrize("name", sorted(OVERRIDDEN))
def test_each_overridden_method_exists_with_the_signature_it_expects(name: str) -> None:
    method: Callable[..., Any] = getattr(Worker, name)
    assert inspect.iscoroutinefunction(method), f"arq's Worker.{name} is no longer a coroutine function"
    parameters = inspect.signature(method).parameters
    assert list(parameters) == OVERRIDDEN[name], f"Worker.{name}{inspect.signature(method)}"
    ours = inspect.signature(getattr(ResilientWorker, name)).parameters
    assert list(ours) == OVERRIDDEN[name]


def test_start_jobs_takes_a_slot_before_its_redis_calls() -> None:
    """ResilientWorker.start_jobs gives a slot back (job_counter, sem) when a Redis call fails: right
    only while arq takes the slot before the calls that can fail."""
    source = inspect.getsource(Worker.start_jobs)
    took = max(source.index("await self.sem.acquire()"), source.index("self.job_counter = self.job_counter + 1"))
    assert took < source.index("self.pool.pipeline("), "arq's start_jobs no longer takes its slot first"
    assert "self.job_counter = self.job_counter - 1" in source and "self.sem.release()" in source


def test_a_paused_worker_passes_by_the_cron_slots_arq_would_enqueue_and_ends_a_burst_as_arq_does() -> None:
    """PausableWorker.run_cron advances past exactly the slots arq's run_cron would enqueue (those
    before its cut-off, each next one from calculate_next), and a paused burst worker ends by setting
    max_burst_jobs, which arq's main loop compares with the jobs started."""
    run_cron = inspect.getsource(Worker.run_cron)
    for line in (
        "cron_delay = timedelta(seconds=delay * num_windows)",
        "this_hb_cutoff = n + cron_delay",
        "cron_job.next_run < this_hb_cutoff",
        "cron_job.calculate_next(cron_job.next_run)",
    ):
        assert line in run_cron, f"arq's run_cron no longer has {line!r}"
    assert "0 <= self.max_burst_jobs <= self._jobs_started()" in inspect.getsource(Worker.main)
    poll = inspect.getsource(Worker._poll_iteration)
    assert poll.index("await self.start_jobs(job_ids)") < poll.index("await self.heart_beat()")


def test_the_worker_arguments_the_service_passes_exist() -> None:
    """arq's get_kwargs drops a settings attribute that is not a Worker parameter without a word, so
    a renamed parameter would silently fall back to arq's default."""
    parameters = inspect.signature(Worker).parameters
    for settings in (WorkerSettings, BulkWorkerSettings):
        passed = {name for name in vars(settings) if not name.startswith("_")}
        assert passed <= set(parameters), f"{settings.__name__}: not Worker parameters: {passed - set(parameters)}"
    # What services.worker.factory and the tests add to the settings' arguments.
    assert {"redis_pool", "burst", "handle_signals", "ctx", "max_burst_jobs"} <= set(parameters)
    assert all(p.kind is not inspect.Parameter.POSITIONAL_ONLY for p in parameters.values())


async def test_the_attributes_it_reads_and_writes_exist_with_their_types() -> None:
    worker = ResilientWorker(functions=[func(_noop, name="noop")], handle_signals=False, lease_seconds=6)
    assert isinstance(worker.tasks, dict)
    assert isinstance(worker.cron_jobs, list)
    assert isinstance(worker.ctx, dict)
    assert isinstance(worker.job_counter, int)
    assert isinstance(worker.sem, asyncio.BoundedSemaphore)
    assert worker.in_progress_timeout_s == worker.lease_seconds == 6  # the lease replaced arq's timeout
    assert worker._pool is None  # arq's own attribute, which ResilientWorker reads
    assert isinstance(inspect.getattr_static(Worker, "pool"), property)
    assert arq.constants.in_progress_key_prefix == "arq:in-progress:"
