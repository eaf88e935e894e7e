"""Retention: what is kept only so long is deleted once its time is up, in short batches.

Five tables grow with the traffic and are worth keeping only for a while (README, "What each table
keeps, and for how long"):
- `outbox`: a processed row, OUTBOX_RETENTION_HOURS after it was processed (its effect is kept
  elsewhere: the TransferLog, the comment's decision). A row still waiting, dead letters included,
  is never deleted: it is work not done, for the sweeper or a person.
- `idempotency_key`: a key, IDEMPOTENCY_KEY_HOURS after it was first used (a repeat after that is
  a new request anyway: shared.idempotency).
- `job`: a finished record, JOB_RECORD_RETENTION_DAYS after it finished (a failed bulk update's
  staged items go with it, by their foreign key's cascade).
- `job_run`: a try, JOB_HISTORY_DAYS after it ended; `job_metric_minute`: a minute's metrics,
  JOB_METRICS_HOURS after it (shared.ops.recorder writes both).

Each batch is one short transaction: `DELETE ... WHERE key = ANY(<the keys of: SELECT ... WHERE <past
its time> ORDER BY <age> LIMIT n FOR UPDATE SKIP LOCKED>)`. The selection walks an index on the age column
(the EXPLAIN test holds it), reads only the rows it deletes, and skips a row someone else holds (a
request replacing an expired key, say) rather than wait for it; the transaction's own lock and
statement timeouts bound it anyway. A pass runs at most `max_batches` batches per table and stops at
its time budget: a backlog (the first pass after an upgrade) is worked off over several passes,
never by one long transaction. It is a cron of its own, once a minute, never part of the 5-second
sweepers: however much is left to delete, their passes stay as short as ever.
"""

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Delete,
    Select,
    Table,
    any_,
    delete,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.sql.selectable import NamedFromClause

from shared.errors import DatabaseUnavailable
from shared.jobs.context import Ctx, settings_of, transaction
from shared.jobs.queues import Queue
from shared.jobs.records import JOB_RECORD_RETENTION_DAYS
from shared.jobs.spec import CronSpec
from shared.models.base import table_of
from shared.models.jobs import IdempotencyRecord, JobMetricMinute, JobRecord, JobRun, OutboxMessage
from shared.settings import Settings

logger = logging.getLogger(__name__)

PRUNE_EVERY_SECONDS = 60
PRUNE_TIMEOUT_SECONDS = 50  # below the interval: a pass ends before the next is due
# A pass stops starting batches after this, whatever is left (the next pass goes on).
PASS_BUDGET_SECONDS = 20.0
# SET LOCAL of each batch. A batch deletes by primary key rows nobody else wants (past their time, and
# SKIP LOCKED passes over any another transaction holds): it takes milliseconds. A lock wait means
# something else holds the table (a migration): give up at once and let the next pass try.
BATCH_LOCK_TIMEOUT_MS = 200
BATCH_STATEMENT_TIMEOUT_MS = 5_000


@dataclass(frozen=True)
class Retention:
    """One table's rule: rows whose `age_column` is older than `kept_for(settings)` are deleted,
    oldest first, `batch` rows per transaction and at most `max_batches` transactions per pass."""

    table: Table
    age_column: str
    kept_for: Callable[[Settings], timedelta]
    batch: int
    max_batches: int

    @property
    def name(self) -> str:
        return self.table.name

    def selection(self, settings: Settings, limit: int | None = None) -> Select[Any]:
        """The rows of one batch: past their time, oldest first, locked, those others hold skipped.
        A NULL age (an outbox row not processed, a job not finished) is never older than anything."""
        chosen = self.table.alias("chosen")  # not correlated with the DELETE's own table
        age = chosen.c[self.age_column]
        return (
            select(_identity(chosen).label("row"))
            .where(age < func.now() - self.kept_for(settings))
            .order_by(age)
            .limit(self.batch if limit is None else limit)
            .with_for_update(skip_locked=True)
        )

    def batch_delete(self, settings: Settings, limit: int | None = None) -> Delete:
        """DELETE ... WHERE <row> = ANY(ARRAY(<selection>)): the batch is chosen once (an InitPlan),
        then its rows are fetched by key, whatever the table's size or statistics (a join with the
        selection, `IN (SELECT ...)`, may hash it and scan the whole table instead)."""
        # PostgreSQL's ARRAY(SELECT ...), evaluated once, so `= ANY` compares with its elements.
        rows = func.array(self.selection(settings, limit).scalar_subquery())
        return delete(self.table).where(_identity(self.table) == any_(rows))


def _identity(table: NamedFromClause) -> ColumnElement[Any]:
    """How a batch names its rows: the primary key when it is one column (outbox, job); otherwise
    (idempotency_key's user and key) the row's address, ctid, which the batch's FOR UPDATE pins
    until it commits (nobody can update or delete a locked row, and VACUUM does not move one)."""
    keys = [column.name for column in table.primary_key]
    if len(keys) == 1:
        key: ColumnElement[Any] = table.c[keys[0]]
        return key
    return literal_column(f"{table.name}.ctid")


# 200 transfers/s write 12,000 outbox rows a minute (and as many keys, if every one is keyed): a pass
# may delete 50,000 of each, so retention keeps up with four times that, and works off a backlog.
# A job record's arguments may hold 100,000 items (and a failed bulk update's staged arrays go
# with it): smaller batches, for a table that grows by hundreds a day.
RULES: tuple[Retention, ...] = (
    Retention(
        table_of(OutboxMessage),
        "processed_at",
        lambda settings: timedelta(hours=settings.outbox_retention_hours),
        batch=1000,
        max_batches=50,
    ),
    Retention(
        table_of(IdempotencyRecord),
        "created_at",
        lambda settings: timedelta(hours=settings.idempotency_key_hours),
        batch=1000,
        max_batches=50,
    ),
    Retention(
        table_of(JobRecord),
        "finished_at",
        lambda settings: timedelta(days=JOB_RECORD_RETENTION_DAYS),
        batch=100,
        max_batches=20,
    ),
    # Job history (shared.ops.recorder): small rows, one per try; the per-minute metrics are minutes
    # x functions, a few thousand a day.
    Retention(
        table_of(JobRun),
        "ended_at",
        lambda settings: timedelta(days=settings.job_history_days),
        batch=1000,
        max_batches=50,
    ),
    Retention(
        table_of(JobMetricMinute),
        "minute",
        lambda settings: timedelta(hours=settings.job_metrics_hours),
        batch=1000,
        max_batches=20,
    ),
)

_BOUND_BATCH = text(
    "SELECT set_config('lock_timeout', :lock_timeout, true), set_config('statement_timeout', :statement_timeout, true)"
)  # SET LOCAL, with parameters: the bounds end with the batch's transaction (behind a pooler too)


async def prune(ctx: Ctx, rules: Sequence[Retention] = RULES) -> dict[str, int]:
    """One retention pass: each table's rows past their time, batch by batch; how many per table."""
    settings = settings_of(ctx)
    started = time.monotonic()
    deleted: dict[str, int] = {}
    for rule in rules:
        deleted[rule.name] = 0
        for _ in range(rule.max_batches):
            if time.monotonic() - started > PASS_BUDGET_SECONDS:
                break
            try:
                async with transaction(ctx) as session:
                    await session.exec(  # type: ignore[call-overload]  # SQLModel's exec() types only its own select(), not a text() with parameters
                        _BOUND_BATCH,
                        params={
                            "lock_timeout": f"{BATCH_LOCK_TIMEOUT_MS}ms",
                            "statement_timeout": f"{BATCH_STATEMENT_TIMEOUT_MS}ms",
                        },
                    )
                    gone = int((await session.exec(rule.batch_delete(settings))).rowcount)
            except DatabaseUnavailable as error:  # a timeout, or PostgreSQL gone: the next pass tries again
                logger.warning("retention of %s stopped: %s", rule.name, error)
                break
            deleted[rule.name] += gone
            if gone < rule.batch:  # nothing more is past its time (now)
                break
    if any(deleted.values()):  # one INFO line for a pass that did something; an empty pass says nothing
        logger.info("retention: deleted %s", ", ".join(f"{count} {name} row(s)" for name, count in deleted.items()))
    return deleted


async def prune_retained(ctx: Ctx) -> dict[str, int]:
    """Cron: delete what is past its retention (shared.jobs.retention.RULES)."""
    return await prune(ctx)


PRUNE_RETAINED = CronSpec(
    prune_retained, Queue.short, every_seconds=PRUNE_EVERY_SECONDS, timeout_seconds=PRUNE_TIMEOUT_SECONDS
)
