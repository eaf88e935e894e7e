"""shared/db.py: the session factory both processes use, and its engine's settings."""

import json

from sqlalchemy import cast, literal, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import create_engine, create_session_factory, json_text
from shared.models.heroes import Team


async def test_objects_stay_readable_after_commit_without_a_lazy_load(engine: AsyncEngine) -> None:
    """expire_on_commit=False: an attribute read after COMMIT needs no refresh, which under
    asyncio would be an implicit (forbidden) load, MissingGreenlet."""
    factory = create_session_factory(engine)
    assert factory.kw["expire_on_commit"] is False and factory.kw["autoflush"] is False
    async with factory() as session:
        team = Team(name="after-commit readable")
        session.add(team)
        await session.commit()
        try:
            # Expired, this read would have to load the row again: MissingGreenlet outside a greenlet.
            assert team.name == "after-commit readable" and team.id is not None
        finally:
            await session.delete(team)  # a real COMMIT above: leave the test database as it was
            await session.commit()


async def test_json_parameters_round_trip_and_take_non_string_keys_as_the_standard_library_does(
    database_url: URL,
) -> None:
    """Through the service's own engine (shared.db.create_engine): a JSONB parameter is written by
    json_text and read back by orjson, and comes back as the standard library would have written
    it (an int key as a string; orjson alone would refuse it)."""
    value = {"a": [1, 2.5, None, True, "é"], 3: "x"}
    assert json.loads(json_text(value)) == json.loads(json.dumps(value))
    engine = create_engine(url=database_url.render_as_string(hide_password=False), pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as connection:
            stored = (await connection.execute(select(cast(literal(value, JSONB), JSONB)))).scalar_one()
    finally:
        await engine.dispose()
    assert stored == json.loads(json.dumps(value)) == {"a": [1, 2.5, None, True, "é"], "3": "x"}
