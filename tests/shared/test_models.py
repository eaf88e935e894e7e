"""Model-wide guarantees: no lazy loading anywhere, named constraints, aware timestamps."""

from datetime import datetime

import pytest
from sqlalchemy import DateTime, inspect
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.orm import configure_mappers
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

import shared.models  # noqa: F401  (every table)
from shared.models.blog import Post
from shared.models.heroes import Hero, Team
from tests.shared.factories import make_hero, make_team, make_user

# Every mapped class SQLModel knows of (importing shared.models imports every table module): not a
# hand-kept list, which a new table could be left out of.
MAPPED = sorted((mapper.class_ for mapper in SQLModel._sa_registry.mappers), key=lambda model: model.__name__)


def test_every_table_is_mapped_by_a_model() -> None:
    assert {model.__table__.name for model in MAPPED} == set(SQLModel.metadata.tables)  # type: ignore[attr-defined]  # SQLModel declares __table__ only on table classes
    assert len(MAPPED) >= 20


def test_every_relationship_refuses_lazy_loading() -> None:
    configure_mappers()
    relationships = [(model.__name__, rel) for model in MAPPED for rel in inspect(model).relationships]
    assert len(relationships) >= 25
    lazy = [f"{name}.{rel.key}={rel.lazy}" for name, rel in relationships if rel.lazy != "raise"]
    assert lazy == []


def test_every_constraint_and_index_has_a_conventional_name() -> None:
    prefixes = {"PrimaryKeyConstraint": "pk_", "ForeignKeyConstraint": "fk_", "UniqueConstraint": "uq_"}
    for table in SQLModel.metadata.sorted_tables:
        for constraint in table.constraints:
            kind = type(constraint).__name__
            assert constraint.name, f"unnamed {kind} on {table.name}"
            assert constraint.name.startswith(prefixes.get(kind, "ck_")), constraint.name
        for index in table.indexes:
            assert index.name and index.name.startswith(("ix_", "uq_")), index.name


def test_every_timestamp_column_is_timezone_aware() -> None:
    columns = [
        f"{table.name}.{column.name}"
        for table in SQLModel.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, DateTime) and not column.type.timezone
    ]
    assert columns == []


async def test_a_lazy_load_raises_instead_of_querying(session: AsyncSession) -> None:
    team = await make_team(session)
    await make_hero(session, team_id=team.id)
    session.expunge_all()
    loaded = (await session.exec(select(Team).where(col(Team.id) == team.id))).one()
    with pytest.raises(InvalidRequestError, match="lazy='raise'"):
        _ = loaded.heroes
    hero = (await session.exec(select(Hero).where(col(Hero.team_id) == team.id))).one()
    with pytest.raises(InvalidRequestError, match="lazy='raise'"):
        _ = hero.team


async def test_timestamps_come_back_aware_and_updated_at_moves(session: AsyncSession) -> None:
    author = await make_user(session)
    post = Post(title="Hello", content="...", author_id=author.id)
    session.add(post)
    await session.flush()
    session.expunge_all()
    stored = (await session.exec(select(Post).where(col(Post.id) == post.id))).one()
    assert isinstance(stored.created_at, datetime) and stored.created_at.utcoffset() is not None
    assert stored.updated_at.utcoffset() is not None
    # updated_at moves on UPDATE, and is readable right after the flush (no expired attribute).
    before = stored.updated_at
    stored.title = "Hello again"
    await session.flush()
    assert stored.updated_at > before
