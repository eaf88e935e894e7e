"""Request and response shapes of the bulk job actions (POST /ops/jobs/actions) and of the dead
letters (GET /ops/dead-letters and its actions)."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel as Shape
from pydantic import Field, StringConstraints, ValidationInfo, field_validator

from shared.jobs.queues import Queue
from shared.models.jobs import MAX_SWEEPS
from shared.ops.schemas import JobStatus
from shared.schemas import CursorPosition, CursorTime, FromText, IsoTime, Page, Strict

# The most ids one request may name, and the most jobs (or dead letters) one filter action acts
# on: a bigger selection is acted on in several requests, each answering what remains.
MAX_IDS = 1000
ACTION_CAP = 1000

JobIdText = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9:_.\-]+$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class JobAction(StrEnum):
    retry = "retry"  # failed jobs run again
    abort = "abort"  # queued, deferred or running jobs stopped
    discard = "discard"  # finished jobs forgotten (their result and failure record deleted)


# The statuses each action acts on: a filter naming another status is refused (422), and a filter
# naming none means all of these.
ACTS_ON: dict[JobAction, tuple[JobStatus, ...]] = {
    JobAction.retry: (JobStatus.failed,),
    JobAction.abort: (JobStatus.queued, JobStatus.deferred, JobStatus.in_progress),
    JobAction.discard: (JobStatus.failed, JobStatus.complete),
}


class JobFilter(Strict):
    function: Name | None = None
    status: Annotated[JobStatus | None, FromText] = None
    queue: Annotated[Queue | None, FromText] = None


class JobsActionRequest(Strict):
    action: Annotated[JobAction, FromText] = Field(
        description="retry (failed jobs), abort (queued, deferred or running ones) or discard (finished ones)."
    )
    ids: list[JobIdText] | None = Field(
        default=None, min_length=1, max_length=MAX_IDS, description=f"At most {MAX_IDS} job ids."
    )
    filter: JobFilter | None = Field(
        default=None, validate_default=True, description=f"Every job it matches, {ACTION_CAP} at most per request."
    )
    dry_run: bool = Field(default=False, description="Count and list what would be acted on; change nothing.")

    @field_validator("filter", mode="after")
    @classmethod
    def ids_or_filter(cls, value: JobFilter | None, info: ValidationInfo) -> JobFilter | None:
        if "ids" not in info.data:  # the ids were invalid: that error says enough
            return value
        if value is None and info.data["ids"] is None:
            raise ValueError("give either ids or a filter")
        if value is not None and info.data["ids"] is not None:
            raise ValueError("give either ids or a filter, not both")
        action = info.data.get("action")
        if (
            value is not None
            and value.status is not None
            and action is not None
            and value.status not in ACTS_ON[action]
        ):
            allowed = ", ".join(ACTS_ON[action])
            raise ValueError(f"{action} acts on jobs that are {allowed}, not {value.status}")
        return value


class ItemOutcome(StrEnum):
    ok = "ok"
    not_found = "not_found"
    conflict = "conflict"


class ActedOn(Shape):
    id: str
    kind: str | None = Field(default=None, description="A dead letter's kind (outbox, job, record).")
    outcome: ItemOutcome
    reason: str | None = Field(default=None, description="Why not (the rule, e.g. `job_not_failed`), or what was done.")
    new_job_id: str | None = Field(default=None, description="A retry's job id.")


class ActionResult(Shape):
    action: str
    dry_run: bool
    matched: int = Field(description="What the ids or the filter selected (for a dry run: what would be acted on).")
    acted: int = Field(description="Of those, how many were acted on (ok); 0 in a dry run.")
    cap: int = Field(description="The most one request acts on.")
    capped: bool = Field(description="More matched than the cap: send the request again for the rest.")
    remaining: int = Field(description="Matched beyond the cap, left for the next request.")
    items: list[ActedOn]


class DeadLetterKind(StrEnum):
    outbox = "outbox"  # an outbox row the sweeper stopped re-sending
    job = "job"  # a job whose last try failed (no retries left), kept as arq's result
    record = "record"  # a bulk job whose durable record failed


class DeadLetter(Shape):
    kind: DeadLetterKind
    id: str
    function: str | None = Field(description="The job's function; an outbox row's topic.")
    queue: str | None
    given_up_at: datetime = Field(
        description="A job's or record's end; an outbox row's creation (rows keep no time of their last sweep)."
    )
    tries: int | None = Field(description=f"Tries, or an outbox row's sweeps (it is given up at {MAX_SWEEPS}).")
    error_type: str | None = None
    error_message: str | None = None


class DeadLetterPage(Page[DeadLetter]):
    pass


class DeadLetterPosition(CursorPosition):
    at: CursorTime
    kind: DeadLetterKind
    id: Annotated[str, StringConstraints(max_length=200)]


class DeadLetterFilter(Strict):
    kind: Annotated[DeadLetterKind | None, FromText] = None
    function: Name | None = None
    since: Annotated[IsoTime | None, FromText] = None
    until: Annotated[IsoTime | None, FromText] = None


class DeadLetterAction(StrEnum):
    requeue = "requeue"
    discard = "discard"


class DeadLetterActionRequest(Strict):
    action: Annotated[DeadLetterAction, FromText] = Field(
        description="requeue (deliver or run it again) or discard (forget it; the audit keeps its id)."
    )
    filter: DeadLetterFilter = Field(
        default_factory=DeadLetterFilter,
        description=f"Every dead letter it matches (all, if empty), {ACTION_CAP} at most per request.",
    )
    dry_run: bool = Field(default=False, description="Count and list what would be acted on; change nothing.")
