"""Test data builders. They only add and flush: the test's transaction is rolled back."""

import base64
import json
from collections.abc import Sequence
from itertools import count
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import flush
from shared.models.catalog import Category
from shared.models.heroes import Hero, Item, Team
from shared.models.users import User

_serial = count(1)


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_serial)}"


async def make_user(session: AsyncSession, **fields: Any) -> User:
    name = unique("user")
    user = User(
        username=fields.pop("username", name),
        email=fields.pop("email", f"{name}@example.com"),
        hashed_password=fields.pop("hashed_password", "not-a-real-hash"),
        **fields,
    )
    session.add(user)
    await flush(session)
    return user


async def make_team(session: AsyncSession, **fields: Any) -> Team:
    team = Team(name=fields.pop("name", unique("team")), **fields)
    session.add(team)
    await flush(session)
    return team


async def make_hero(session: AsyncSession, **fields: Any) -> Hero:
    defaults: dict[str, Any] = {"name": unique("hero"), "secret_identity": unique("id"), "age": 30, "power_level": 40}
    hero = Hero(**(defaults | fields))
    session.add(hero)
    await flush(session)
    return hero


async def make_roster(session: AsyncSession, teams: int, heroes_per_team: int, items_per_hero: int) -> list[Team]:
    """Teams with heroes with items, added in three flushes (ids come back per batch)."""
    team_rows = [Team(name=unique("team")) for _ in range(teams)]
    session.add_all(team_rows)
    await flush(session)
    hero_rows = [
        Hero(name=unique("hero"), secret_identity=unique("id"), age=20 + i % 40, power_level=50, team_id=team.id)
        for team in team_rows
        for i in range(heroes_per_team)
    ]
    session.add_all(hero_rows)
    await flush(session)
    session.add_all(Item(name=unique("item"), hero_id=hero.id) for hero in hero_rows for _ in range(items_per_hero))
    await flush(session)
    return team_rows


async def make_category_chain(session: AsyncSession, depth: int) -> Sequence[Category]:
    """A root and `depth` - 1 nested descendants, one below the other."""
    chain: list[Category] = []
    parent_id = None
    for level in range(depth):
        category = Category(name=unique(f"level{level}"), parent_id=parent_id)
        session.add(category)
        await flush(session)
        chain.append(category)
        parent_id = category.id
    return chain


def forge_cursor(raw: object) -> str:
    """A cursor of any content, encoded as the service encodes its own: what a client could send."""
    return base64.urlsafe_b64encode(json.dumps(raw).encode()).decode().rstrip("=")
