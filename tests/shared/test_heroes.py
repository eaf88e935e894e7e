"""Hero rules (database and pydantic), the hero and team queries, and the batch writes (the batch
update is a showcase: examples/batch_update.py)."""

import pytest
from pydantic import ValidationError
from sqlmodel import col, select, text
from sqlmodel.ext.asyncio.session import AsyncSession

from examples.batch_update import update_heroes
from shared.db import flush
from shared.errors import ConstraintViolation, constraint_errors
from shared.heroes import batch, queries
from shared.heroes.schemas import HeroCreate, HeroUpdate
from shared.models.heroes import Hero, Item
from tests.conftest import StatementLog
from tests.shared.factories import make_hero, make_roster, make_team, unique

RAW_INSERT = text("INSERT INTO hero (name, secret_identity, age, power_level) VALUES (:name, :secret, :age, :power)")


async def raw_insert(session: AsyncSession, **values: object) -> None:
    params = {"name": unique("raw"), "secret": unique("s"), "age": 30, "power": 10} | values
    with constraint_errors():
        await session.exec(RAW_INSERT, params=params)  # type: ignore[call-overload]


@pytest.mark.parametrize(
    ("values", "constraint"),
    [
        ({"age": 15, "power": 60}, "ck_hero_young_hero_power"),
        ({"age": 0}, "ck_hero_positive_age"),
        ({"power": 100.5}, "ck_hero_valid_power_level"),
        ({"power": -1}, "ck_hero_valid_power_level"),
        ({"name": "SeCrEt"}, "ck_hero_name_not_secret"),
        ({"name": "\tSecret\n"}, "ck_hero_name_not_secret"),
    ],
)
async def test_raw_sql_cannot_store_a_bad_hero(
    session: AsyncSession, values: dict[str, object], constraint: str
) -> None:
    with pytest.raises(ConstraintViolation) as caught:
        async with session.begin_nested():
            await raw_insert(session, **values)
    assert caught.value.constraint == constraint
    assert caught.value.kind == "check"


async def test_a_young_hero_at_the_power_limit_is_fine(session: AsyncSession) -> None:
    await raw_insert(session, age=15, power=50)


async def test_name_and_secret_identity_are_unique_together(session: AsyncSession) -> None:
    await raw_insert(session, name="Ann", secret="Anna Smith")
    await raw_insert(session, name="Ann", secret="Someone else")
    with pytest.raises(ConstraintViolation) as caught:
        await raw_insert(session, name="Ann", secret="Anna Smith")
    assert caught.value.constraint == "uq_hero_name_secret_identity"
    assert caught.value.kind == "unique"
    assert "Ann, Anna Smith" in caught.value.message


async def test_a_bulk_update_cannot_break_the_rules(session: AsyncSession) -> None:
    hero = await make_hero(session, age=16, power_level=40)
    with pytest.raises(ConstraintViolation) as caught:
        async with session.begin_nested():
            await update_heroes(session, [{"id": hero.id, "power_level": 90}])
    assert caught.value.constraint == "ck_hero_young_hero_power"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"age": 15, "power_level": 60}, "a hero under 18 cannot have a power level above 50"),
        ({"age": 0}, "greater than 0"),
        ({"power_level": 101}, "less than or equal to 100"),
        ({"name": " Secret "}, 'name cannot be "secret"'),
        ({"nickname": "x"}, "Extra inputs are not permitted"),
    ],
)
def test_hero_input_is_validated_with_clear_messages(data: dict[str, object], message: str) -> None:
    base = {"name": "Ann", "secret_identity": "Anna", "age": 30, "power_level": 10}
    with pytest.raises(ValidationError, match=message):
        HeroCreate.model_validate(base | data)


def test_a_partial_update_is_validated_too() -> None:
    with pytest.raises(ValidationError, match="age cannot be null"):
        HeroUpdate.model_validate({"age": None})
    with pytest.raises(ValidationError, match='name cannot be "secret"'):
        HeroUpdate.model_validate({"name": "SECRET"})
    assert HeroUpdate.model_validate({"team_id": None}).model_fields_set == {"team_id"}


async def test_teams_with_hero_counts_include_empty_teams(session: AsyncSession) -> None:
    full = await make_team(session)
    empty = await make_team(session)
    for _ in range(3):
        await make_hero(session, team_id=full.id)
    counts = {row.id: row.hero_count for row in await queries.teams_with_hero_counts(session)}
    assert counts[full.id] == 3
    assert counts[empty.id] == 0


async def test_dynamic_filters_apply_only_what_is_given(session: AsyncSession) -> None:
    team = await make_team(session)
    young = await make_hero(session, age=20, power_level=10, team_id=team.id)
    old = await make_hero(session, age=60, power_level=90, team_id=team.id)
    teamless = await make_hero(session, age=70, power_level=95)
    by_team = {h.id for h in await queries.filter_heroes(session, team_name=team.name)}
    assert by_team == {young.id, old.id}
    by_age = {h.id for h in await queries.filter_heroes(session, min_age=60)}
    assert {old.id, teamless.id} <= by_age and young.id not in by_age
    both = {h.id for h in await queries.filter_heroes(session, team_name=team.name, min_age=60)}
    assert both == {old.id}
    by_power = {h.id for h in await queries.filter_heroes(session, min_power=50, max_power=92)}
    assert old.id in by_power and teamless.id not in by_power and young.id not in by_power


async def test_heroes_of_the_team_with_the_highest_average_age_in_one_statement(
    session: AsyncSession, statements: StatementLog
) -> None:
    await session.exec(text("DELETE FROM hero"))  # type: ignore[call-overload]
    young, old = await make_team(session), await make_team(session)
    for age in (20, 22):
        await make_hero(session, age=age, team_id=young.id)
    oldest = [await make_hero(session, age=age, team_id=old.id) for age in (50, 60)]
    await make_hero(session, age=99)  # teamless heroes form no team
    with statements.record():
        heroes = await queries.heroes_of_team(session, queries.oldest_team_statement().scalar_subquery(), limit=50)
    assert [hero.id for hero in heroes] == [hero.id for hero in oldest]
    assert statements.count == 1


async def test_batch_create_returns_ids_in_order_in_one_statement(
    session: AsyncSession, statements: StatementLog
) -> None:
    data = [HeroCreate(name=unique("b"), secret_identity=unique("s"), age=30, power_level=i % 100) for i in range(500)]
    with statements.record():
        ids = await batch.create_heroes(session, data)
    assert statements.count == 1
    stored = (await session.exec(select(Hero).where(col(Hero.id).in_(ids)))).all()
    by_id = {hero.id: hero.name for hero in stored}
    assert [by_id[i] for i in ids] == [hero.name for hero in data]


async def test_batch_update_uses_a_statement_per_field_set_not_per_row(
    session: AsyncSession, statements: StatementLog
) -> None:
    heroes = [await make_hero(session, age=30, power_level=10) for _ in range(40)]
    team = await make_team(session)
    updates = [{"id": hero.id, "power_level": 77.5} for hero in heroes[:20]]
    updates += [{"id": hero.id, "age": 44, "team_id": team.id} for hero in heroes[20:]]
    updates += [{"id": 2_000_000_000, "power_level": 50}]
    with statements.record():
        result = await update_heroes(session, updates)
    assert statements.count == 2
    assert result.missing_ids == [2_000_000_000]
    assert len(result.ids) == 40
    session.expunge_all()
    stored = {h.id: h for h in (await session.exec(select(Hero).where(col(Hero.id).in_(result.ids)))).all()}
    assert all(stored[h.id].power_level == 77.5 and stored[h.id].age == 30 for h in heroes[:20])
    assert all(stored[h.id].age == 44 and stored[h.id].team_id == team.id for h in heroes[20:])


async def test_batch_update_can_clear_a_team(session: AsyncSession) -> None:
    team = await make_team(session)
    hero = await make_hero(session, team_id=team.id)
    await update_heroes(session, [{"id": hero.id, "team_id": None}])
    session.expunge_all()
    assert (await session.get(Hero, hero.id)).team_id is None  # type: ignore[union-attr]


async def test_batch_delete_is_one_statement_and_takes_items_along(
    session: AsyncSession, statements: StatementLog
) -> None:
    teams = await make_roster(session, teams=5, heroes_per_team=10, items_per_hero=2)
    ids = [h.id for h in await queries.filter_heroes(session) if h.team_id in {t.id for t in teams}]
    with statements.record():
        result = await batch.delete_heroes(session, [*ids, 2_000_000_001])
    assert statements.count == 1
    assert sorted(result.ids) == sorted(ids) and result.missing_ids == [2_000_000_001]
    left = (await session.exec(select(Item).where(col(Item.hero_id).in_(ids)))).all()
    assert left == []


async def test_batch_delete_takes_more_ids_than_a_statement_has_parameters(session: AsyncSession) -> None:
    hero = await make_hero(session)
    result = await batch.delete_heroes(session, [hero.id, *range(1_000_000_000, 1_000_040_000)])
    assert result.ids == [hero.id] and len(result.missing_ids) == 40_000


async def test_hero_on_unknown_team_is_a_typed_error(session: AsyncSession) -> None:
    session.add(Hero(name="Lost", secret_identity="L", age=30, power_level=1, team_id=2_000_000_000))
    with pytest.raises(ConstraintViolation) as caught:
        await flush(session)
    assert caught.value.constraint == "fk_hero_team_id_team"
    assert caught.value.fields == ("team_id",)
