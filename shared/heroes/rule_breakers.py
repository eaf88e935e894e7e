"""Which heroes of a refused bulk update broke a rule: PostgreSQL names only the constraint, so this
one diagnostic statement names every offending hero id (shared.heroes.jobs, BulkRefused).

The rules are not written again here. The hero table's own CHECK conditions (shared/models/heroes.py)
are evaluated on the merged (stored + new) values: in the outer query the only table is the merged
rows, so the conditions' unqualified column names (`age`, `name`, ...) are the merged row's. UNIQUE
and the team FOREIGN KEY are checked beside them, as the constraints would be.
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import CheckConstraint, ColumnElement, Float, Integer, Select, String, and_, exists, false, func, or_
from sqlalchemy import select as core_select
from sqlalchemy.sql.expression import Grouping
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.heroes.bulk_schemas import BulkHeroUpdate
from shared.models.base import table_of
from shared.models.heroes import Hero, Team
from shared.sql import array_param

_HERO = table_of(Hero)
_TEAM = table_of(Team)
_FIELDS: tuple[tuple[str, Any], ...] = (
    ("id", Integer()),
    ("name", String()),
    ("secret_identity", String()),
    ("age", Integer()),
    ("power_level", Float()),
    ("team_id", Integer()),
)


def _hero_checks() -> ColumnElement[bool]:
    """Every CHECK of the hero table, ANDed, each in parentheses (`a OR b` must stay one term)."""
    checks = [Grouping(c.sqltext) for c in _HERO.constraints if isinstance(c, CheckConstraint)]
    return and_(*checks)


def rule_breakers(items: Sequence[BulkHeroUpdate]) -> Select[tuple[int]]:
    """The statement: ids of the heroes whose merged values break a rule, in id order."""
    arrays = [array_param(f"batch_{name}", [item.get(name) for item in items], kind) for name, kind in _FIELDS]
    names = [name for name, _ in _FIELDS]
    batch = core_select(func.unnest(*arrays).table_valued(*names).render_derived(name="b")).cte("batch")
    hero = _HERO.alias("h")
    merged = (
        core_select(
            hero.c.id,
            *(func.coalesce(batch.c[name], hero.c[name]).label(name) for name in names[1:-1]),
            batch.c.team_id.label("new_team_id"),
        )
        .select_from(hero.join(batch, batch.c.id == hero.c.id))
        .cte("merged")
    )
    row, other_row, stored = merged.alias("m"), merged.alias("o"), _HERO.alias("o")
    same_name = [other_row.c.name == row.c.name, other_row.c.secret_identity == row.c.secret_identity]
    stored_same_name = [stored.c.name == row.c.name, stored.c.secret_identity == row.c.secret_identity]
    broken = or_(
        # A CHECK fails when its condition is false (NULL passes, as in PostgreSQL).
        _hero_checks().is_(false()),
        # UNIQUE (name, secret_identity): within the batch, or against a stored hero it leaves alone.
        exists().where(other_row.c.id != row.c.id, *same_name),
        exists().where(*stored_same_name, ~exists().where(batch.c.id == stored.c.id)),
        # The team FOREIGN KEY.
        and_(row.c.new_team_id.is_not(None), ~exists().where(_TEAM.c.id == row.c.new_team_id)),
    )
    return core_select(row.c.id).where(broken).order_by(row.c.id)


async def find_rule_breakers(session: AsyncSession, items: Sequence[BulkHeroUpdate]) -> list[int]:
    """Ids of the heroes whose merged values would break a hero rule, in one statement."""
    return list((await session.exec(rule_breakers(items))).scalars().all())  # type: ignore[call-overload]  # sqlmodel's exec takes no Core select of plain columns
