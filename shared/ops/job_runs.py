"""The job history's reads: the runs, newest first, by filter or search, one keyset page at a time;
and one job's timeline (its tries in the order they ended).

Each page walks one index in its own order, (ended_at, id) backwards, and stops after the page:
ix_job_run_ended_at_id for the whole list and a time window, ix_job_run_<filter>_ended_at_id for a
function, a queue or a status (the EXPLAIN tests hold it, tests/ops/test_job_history_plans.py). A
search (`q`) reads the trigram indexes of the arguments' preview and of the error.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, Select, bindparam, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.blog.search import escape_like, searchable
from shared.errors import ConstraintViolation
from shared.models.base import table_of
from shared.models.jobs import JobRun
from shared.ops.history_schemas import JobRunItem, JobRunPage, RunFilters
from shared.pagination import keyset, page_of
from shared.schemas import IdPosition, Page, TimeIdPosition

DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 50, 200
DEFAULT_ATTEMPTS, MAX_ATTEMPTS = 100, 500
SEARCH_RULE = "search_term_indexable"
SEARCH_MESSAGE = (
    "the search term gives the trigram indexes nothing to look up: it needs 3 letters or digits in a"
    " row, or 1 or 2 beside a space or punctuation mark; a term of only punctuation would read every run"
)

RUN = table_of(JobRun)


def _text_matches(with_args: bool) -> ColumnElement[bool]:
    pattern: BindParameter[str] = bindparam("pattern")
    if with_args:
        return or_(RUN.c.args_preview.ilike(pattern), RUN.c.error_message.ilike(pattern))
    return RUN.c.error_message.ilike(pattern)


def run_page_statement(
    filters: RunFilters, *, limit: int, after: TimeIdPosition | None = None, with_args: bool = True
) -> Select[Any]:
    """A page of the run list as the app sends it, its values bound (for EXPLAIN too)."""
    if filters.q is not None and not searchable(filters.q):
        raise ConstraintViolation(
            kind="check", constraint=SEARCH_RULE, table=None, fields=("query.q",), message=SEARCH_MESSAGE, value=None
        )
    statement = select(RUN)
    params: dict[str, Any] = {}
    for name in ("function", "queue", "status"):
        if (value := getattr(filters, name)) is not None:
            statement = statement.where(RUN.c[name] == bindparam(name))
            params[name] = str(value)
    if filters.since is not None:
        statement = statement.where(RUN.c.ended_at >= bindparam("since"))
        params["since"] = filters.since
    if filters.until is not None:
        statement = statement.where(RUN.c.ended_at < bindparam("until"))
        params["until"] = filters.until
    if filters.q is not None:
        statement = statement.where(_text_matches(with_args))
        params["pattern"] = f"%{escape_like(filters.q)}%"
    position: tuple[BindParameter[Any], ...] | None = None
    if after is not None:
        position = (bindparam("after_at"), bindparam("after_id"))
        params.update(after_at=after.at, after_id=after.id)
    paged = keyset(statement, (RUN.c.ended_at, RUN.c.id), position, limit=limit, descending=True)
    return paged.params(params)


def _item(row: Any, with_args: bool) -> JobRunItem:
    item = JobRunItem.model_validate(row._mapping)
    return item if with_args else item.model_copy(update={"args_preview": None})


async def list_runs(
    session: AsyncSession,
    filters: RunFilters,
    *,
    limit: int = DEFAULT_PAGE_SIZE,
    cursor: str | None = None,
    with_args: bool = True,
) -> JobRunPage:
    """Runs matching `filters`, newest first. `with_args`: False for an operator (no preview, and
    `q` searches the errors only)."""
    after = TimeIdPosition.decode(cursor)
    statement = run_page_statement(filters, limit=limit, after=after, with_args=with_args)
    rows = (await session.exec(statement)).all()  # type: ignore[call-overload]  # a Core select runs as execute()
    return page_of(
        rows,
        limit,
        lambda row: TimeIdPosition(at=row.ended_at, id=row.id),
        lambda row: _item(row, with_args),
        page=JobRunPage,
    )


def attempts_statement(job_id: str, *, limit: int, after: IdPosition | None = None) -> Select[Any]:
    statement = select(RUN).where(RUN.c.job_id == bindparam("job_id"))
    position: tuple[BindParameter[Any], ...] | None = (bindparam("after_id"),) if after is not None else None
    paged = keyset(statement, (RUN.c.id,), position, limit=limit)
    return paged.params(job_id=job_id, **({"after_id": after.id} if after is not None else {}))


async def job_attempts(
    session: AsyncSession,
    job_id: str,
    *,
    limit: int = DEFAULT_ATTEMPTS,
    cursor: str | None = None,
    with_args: bool = True,
) -> Page[JobRunItem]:
    """One job's tries, oldest first (through ix_job_run_job_id_id)."""
    after = IdPosition.decode(cursor)
    rows = (await session.exec(attempts_statement(job_id, limit=limit, after=after))).all()  # type: ignore[call-overload]  # a Core select runs as execute()
    return page_of(rows, limit, lambda row: IdPosition(id=row.id), lambda row: _item(row, with_args))


def ensure_window(since: datetime | None, until: datetime | None) -> None:
    """A window must not end before it starts (422 on `query.until`)."""
    if since is not None and until is not None and until <= since:
        raise ConstraintViolation(
            kind="check",
            constraint="window_ordered",
            table=None,
            fields=("query.until",),
            message="until must be later than since",
            value=None,
        )
