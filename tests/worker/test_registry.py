"""One declaration per job (shared.jobs.registry): the worker settings, the function queues, the
recorded functions and the outbox handlers are all derived from the JobSpecs and CronSpecs of the
domains' jobs.py and of shared.jobs.sweepers, and the import graph keeps the layers apart."""

import importlib
import re
from typing import TYPE_CHECKING

import pytest

from services.worker.main import BulkWorkerSettings, WorkerSettings, settings_class
from shared import domains
from shared.blog.jobs import BULK_POST_OPERATION
from shared.heroes.jobs import BULK_DELETE_HEROES, BULK_UPDATE_HEROES, PROCESS_TRANSFER_AUDITS
from shared.jobs import registry
from shared.jobs.outbox import PROCESS_OUTBOX_MESSAGE
from shared.jobs.queues import Queue
from shared.jobs.spec import CronSpec, JobSpec, OutboxHandler
from shared.models.jobs import OutboxTopic

if TYPE_CHECKING:
    import grimp


def test_every_domain_declares_its_jobs_crons_and_outbox_handlers() -> None:
    for domain in domains.DOMAINS:
        module = importlib.import_module(f"shared.{domain}.jobs")
        assert all(isinstance(job, JobSpec) for job in module.JOBS), domain
        assert all(isinstance(cron, CronSpec) for cron in module.CRONS), domain
        assert all(isinstance(handler, OutboxHandler) for handler in module.OUTBOX_HANDLERS.values()), domain


def test_the_worker_settings_are_the_declarations() -> None:
    for queue, settings in ((Queue.short, WorkerSettings), (Queue.bulk, BulkWorkerSettings)):
        assert settings_class(queue) is settings
        functions = {f.name: (f.coroutine, f.max_tries, f.keep_result_s) for f in settings.functions}
        assert functions == {
            spec.name: (spec.function, spec.max_tries, spec.keep_result_seconds) for spec in registry.jobs_of(queue)
        }
        crons = {(c.name, c.coroutine, frozenset(c.second or ()), c.timeout_s) for c in settings.cron_jobs}
        assert crons == {
            (spec.name, spec.function, frozenset(range(0, 60, spec.every_seconds)), spec.timeout_seconds)
            for spec in registry.crons_of(queue)
        }
        assert all(c.run_at_startup and c.unique for c in settings.cron_jobs)


def test_the_jobs_are_those_of_before_on_the_same_queues_with_the_same_tries() -> None:
    """The behaviour the declarations replaced: same names, queues, tries, kept results, records."""
    assert {
        spec.name: (spec.queue, spec.max_tries, spec.keep_result_seconds, spec.recorded) for spec in registry.jobs()
    } == {
        "process_outbox_message": (Queue.short, 10, 60, False),
        "process_transfer_audits": (Queue.short, 10, 60, False),
        "bulk_update_heroes": (Queue.bulk, 3, None, True),
        "bulk_delete_heroes": (Queue.bulk, 3, None, True),
        "bulk_post_operation": (Queue.bulk, 3, None, True),
    }
    assert {(spec.name, spec.queue, spec.every_seconds, spec.timeout_seconds) for spec in registry.crons()} == {
        ("cron:sweep_outbox", Queue.short, 5, 20),
        ("cron:sweep_jobs", Queue.short, 5, 20),
        # The team statistics' deltas folded in (shared.heroes.team_stats).
        ("cron:fold_team_stats", Queue.short, 5, 20),
        # Retention, a cron of its own (never inside the 5-second sweepers): once a minute.
        ("cron:prune_retained", Queue.short, 60, 50),
    }
    assert registry.recorded_functions() == {BULK_UPDATE_HEROES.name, BULK_DELETE_HEROES.name, BULK_POST_OPERATION.name}
    assert registry.function_queues()[PROCESS_OUTBOX_MESSAGE.name] == Queue.short
    assert registry.job(BULK_UPDATE_HEROES.name) is BULK_UPDATE_HEROES


def test_each_outbox_topic_has_one_handler_and_transfer_audits_are_batched_per_window() -> None:
    handlers = registry.outbox_handlers()
    assert set(handlers) == set(OutboxTopic)
    audit = registry.outbox_handler(OutboxTopic.transfer_audit)
    assert audit.batch is PROCESS_TRANSFER_AUDITS and audit.batch_window_ms == 50
    assert registry.outbox_handler(OutboxTopic.comment_moderation).batch is None


def test_an_undeclared_name_or_topic_is_a_lookup_error() -> None:
    with pytest.raises(LookupError, match=re.escape("no jobs.py declares a job 'nope'")):
        registry.job("nope")
    with pytest.raises(LookupError, match=re.escape("no jobs.py handles outbox topic 'nope'")):
        registry.outbox_handler("nope")


def test_a_cron_must_divide_the_minute_and_a_batched_topic_needs_its_window() -> None:
    with pytest.raises(ValueError, match="every_seconds must divide 60"):
        CronSpec(PROCESS_OUTBOX_MESSAGE.function, Queue.short, every_seconds=7, timeout_seconds=1)
    with pytest.raises(ValueError, match="needs both its job and a window"):
        OutboxHandler(registry.outbox_handler(OutboxTopic.comment_moderation).handle, batch=PROCESS_TRANSFER_AUDITS)


def _graph() -> "grimp.ImportGraph":
    # import-linter's graph (`lint-imports`, make lint; its contracts forbid cycles between packages).
    grimp = pytest.importorskip("grimp", reason="import-linter (make lint) brings grimp")
    return grimp.build_graph("shared", include_external_packages=False)


def _package(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_shared_db_imports_no_jobs_and_the_jobs_import_no_domain() -> None:
    graph = _graph()
    assert not [m for m in graph.find_modules_directly_imported_by("shared.db") if m.startswith("shared.jobs")]
    domain_packages = {f"shared.{domain}" for domain in domains.DOMAINS}
    imported = {
        (module, target)
        for module in graph.find_descendants("shared.jobs")
        for target in graph.find_modules_directly_imported_by(module)
        if _package(target) in domain_packages
    }
    assert imported == set()


def test_a_recorded_job_must_take_its_record_id() -> None:
    with pytest.raises(TypeError, match="takes the record's id as `record_id`"):
        JobSpec(PROCESS_OUTBOX_MESSAGE.function, Queue.bulk, max_tries=1, recorded=True)
