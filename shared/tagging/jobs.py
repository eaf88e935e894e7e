"""The tagging domain's jobs: none yet (CONTRIBUTING.md, "A domain's files": empty where it has none)."""

from collections.abc import Mapping

from shared.jobs.spec import CronSpec, JobSpec, OutboxHandler
from shared.models.jobs import OutboxTopic

JOBS: tuple[JobSpec, ...] = ()
CRONS: tuple[CronSpec, ...] = ()
OUTBOX_HANDLERS: Mapping[OutboxTopic, OutboxHandler] = {}
