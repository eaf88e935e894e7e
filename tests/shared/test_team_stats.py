"""team_stats plus its deltas not folded yet (migration 0009) stay exactly what counting the
heroes says, after every kind of hero write: the ORM's, raw SQL, one-statement batches like the
bulk jobs', a team's deletion (SET NULL), TRUNCATE, and concurrent transfers committed from many
connections; folding changes nothing a read sees; writers to one team never wait for each other."""

import asyncio
import random

from sqlalchemy import TextClause, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import flush
from shared.heroes import queries
from shared.heroes.team_stats import fold
from tests.shared.factories import make_hero, make_roster, make_team, unique

TRUTH = text(
    "SELECT team.id, count(hero.id), coalesce(sum(hero.age), 0) FROM team"
    " LEFT JOIN hero ON hero.team_id = team.id GROUP BY team.id"
)
# What a read adds up (shared.heroes.queries.teams_page_statement): the folded row and the deltas.
KEPT = text(
    "SELECT s.team_id, s.hero_count + coalesce(d.heroes, 0), s.age_sum + coalesce(d.ages, 0) FROM team_stats s"
    " LEFT JOIN (SELECT team_id, sum(heroes) AS heroes, sum(ages) AS ages FROM team_stats_delta GROUP BY team_id) d"
    " ON d.team_id = s.team_id"
)
FOLDED = text("SELECT team_id, hero_count, age_sum FROM team_stats")


async def rows(session: AsyncSession, statement: TextClause) -> set[tuple[object, ...]]:
    return {tuple(row) for row in (await session.exec(statement)).all()}  # type: ignore[call-overload]


async def assert_stats_are_exact(session: AsyncSession) -> None:
    """Before a fold and after it: the fold moves the deltas into team_stats, the sums stay."""
    truth = await rows(session, TRUTH)
    assert await rows(session, KEPT) == truth
    while await fold(session, batch=7):  # small batches: several folds, each leaving a part
        assert await rows(session, KEPT) == truth
    assert await rows(session, FOLDED) == truth
    assert (await session.exec(text("SELECT count(*) FROM team_stats_delta"))).one()[0] == 0  # type: ignore[call-overload]


async def run(session: AsyncSession, sql: str, **params: object) -> None:
    await session.exec(text(sql), params=params)  # type: ignore[call-overload]


async def test_a_new_team_counts_zero_and_each_orm_write_is_followed(session: AsyncSession) -> None:
    team, other = await make_team(session), await make_team(session)
    await assert_stats_are_exact(session)
    hero = await make_hero(session, team_id=team.id, age=40)
    await make_hero(session, team_id=team.id, age=20)
    await assert_stats_are_exact(session)
    hero.age = 70  # the age alone
    await flush(session)
    await assert_stats_are_exact(session)
    hero.team_id = other.id  # the team alone
    await flush(session)
    await assert_stats_are_exact(session)
    await queries.move_hero(session, hero.id, None)  # type: ignore[arg-type]  # the transfer's statement
    await assert_stats_are_exact(session)
    await session.delete(hero)
    await flush(session)
    await assert_stats_are_exact(session)
    counts = {row.id: row.hero_count for row in await queries.teams_with_hero_counts(session)}
    assert (counts[team.id], counts[other.id]) == (1, 0)


async def test_one_statement_batches_fold_into_one_delta_per_team(session: AsyncSession) -> None:
    teams = await make_roster(session, teams=6, heroes_per_team=50, items_per_hero=0)
    ids = [team.id for team in teams]
    # The bulk update's shape: one UPDATE ... FROM unnest moving and ageing many heroes at once,
    # some of them between teams in both directions, some not moving at all.
    await run(
        session,
        "UPDATE hero SET team_id = CASE WHEN hero.id % 3 = 0 THEN :a WHEN hero.id % 3 = 1 THEN :b ELSE team_id END,"
        " age = age + 1 WHERE team_id = ANY(:ids)",
        a=ids[0],
        b=ids[1],
        ids=ids,
    )
    await assert_stats_are_exact(session)
    await run(session, "DELETE FROM hero WHERE team_id = :a AND id % 2 = 0", a=ids[0])  # the bulk delete's
    await assert_stats_are_exact(session)
    await run(
        session,
        "INSERT INTO hero (name, secret_identity, age, power_level, team_id)"
        " SELECT 'batch ' || g, :s || g, 20 + g % 30, 10,"
        " (ARRAY[CAST(:a AS integer), CAST(:c AS integer)])[1 + g % 2] FROM generate_series(1, 300) g",
        s=unique("s"),
        a=ids[0],
        c=ids[2],
    )
    await assert_stats_are_exact(session)
    await run(session, "UPDATE hero SET power_level = 11 WHERE team_id = :a", a=ids[0])  # neither team nor age
    await assert_stats_are_exact(session)


async def test_a_deleted_team_and_a_truncated_hero_table_leave_no_stale_count(session: AsyncSession) -> None:
    doomed, kept = await make_roster(session, teams=2, heroes_per_team=5, items_per_hero=1)
    await session.delete(doomed)  # its heroes stay, teamless (ON DELETE SET NULL), its stats row goes
    await flush(session)
    await assert_stats_are_exact(session)
    assert (
        await session.exec(text("SELECT count(*) FROM team_stats WHERE team_id = :t"), params={"t": doomed.id})
    ).one()[0] == 0  # type: ignore[call-overload]
    await run(session, "TRUNCATE hero CASCADE")  # this test's transaction only: rolled back after it
    await assert_stats_are_exact(session)
    assert kept.id is not None


async def test_concurrent_transfers_from_many_connections_keep_the_counts_exact(engine: AsyncEngine) -> None:
    """Committed, from 8 connections at once, each moving heroes between the same 4 teams in random
    directions, with folds running meanwhile: no delta is lost or counted twice. The rows are
    deleted at the end (they were committed)."""
    prefix = unique("concurrent")
    async with engine.begin() as connection:
        team_ids = [
            (
                await connection.execute(
                    text("INSERT INTO team (name) VALUES (:n) RETURNING id"), {"n": f"{prefix}-{i}"}
                )
            ).scalar_one()
            for i in range(4)
        ]
        hero_ids = [
            (
                await connection.execute(
                    text(
                        "INSERT INTO hero (name, secret_identity, age, power_level, team_id)"
                        " VALUES (:n, :n, :age, 10, :t) RETURNING id"
                    ),
                    {"n": f"{prefix}-hero-{i}", "age": 20 + i, "t": team_ids[i % 4]},
                )
            ).scalar_one()
            for i in range(40)
        ]

    async def mover(seed: int) -> None:
        chance = random.Random(seed)
        for _ in range(20):
            # As the app writes heroes: one statement per transaction (a transfer moves one hero,
            # a bulk job a batch), here one to three heroes, to one team or to none.
            async with engine.begin() as connection:
                await connection.execute(
                    text("UPDATE hero SET team_id = :t, age = age + 1 WHERE id = ANY(:h)"),
                    {"t": chance.choice([*team_ids, None]), "h": chance.sample(hero_ids, chance.randint(1, 3))},
                )

    async def folder() -> None:
        for _ in range(10):
            async with engine.begin() as connection:
                await connection.execute(text("SELECT team_stats_fold(5)"))
            await asyncio.sleep(0.01)

    try:
        await asyncio.gather(*(mover(seed) for seed in range(8)), folder())
        async with engine.connect() as connection:
            truth = (
                await connection.execute(
                    text(
                        "SELECT team.id, count(hero.id), coalesce(sum(hero.age), 0) FROM team"
                        " LEFT JOIN hero ON hero.team_id = team.id WHERE team.id = ANY(:t) GROUP BY team.id"
                    ),
                    {"t": team_ids},
                )
            ).all()
            kept = (
                await connection.execute(
                    text(f"SELECT * FROM ({KEPT.text}) AS kept WHERE team_id = ANY(:t)"),
                    {"t": team_ids},
                )
            ).all()
        assert sorted(map(tuple, kept)) == sorted(map(tuple, truth))
    finally:
        async with engine.begin() as connection:
            await connection.execute(text("DELETE FROM hero WHERE id = ANY(:h)"), {"h": hero_ids})
            await connection.execute(text("DELETE FROM team WHERE id = ANY(:t)"), {"t": team_ids})


async def test_two_writers_moving_heroes_to_the_same_team_do_not_wait_for_each_other(engine: AsyncEngine) -> None:
    """The first transaction has moved a hero to the team and not committed; the second moves
    another hero to it under a 1 s lock timeout and commits. With the triggers updating team_stats
    itself, the second waited for the first's row lock until its COMMIT (here: the timeout)."""
    prefix = unique("no-wait")
    async with engine.begin() as connection:
        team = (
            await connection.execute(text("INSERT INTO team (name) VALUES (:n) RETURNING id"), {"n": prefix})
        ).scalar_one()
        heroes = [
            (
                await connection.execute(
                    text(
                        "INSERT INTO hero (name, secret_identity, age, power_level) VALUES (:n, :n, 30, 1) RETURNING id"
                    ),
                    {"n": f"{prefix}-{i}"},
                )
            ).scalar_one()
            for i in range(2)
        ]
    try:
        async with engine.connect() as first, engine.connect() as second:
            await first.begin()
            await first.execute(text("UPDATE hero SET team_id = :t WHERE id = :h"), {"t": team, "h": heroes[0]})
            await second.begin()
            await second.execute(text("SET LOCAL lock_timeout = '1s'"))
            await second.execute(text("UPDATE hero SET team_id = :t WHERE id = :h"), {"t": team, "h": heroes[1]})
            await second.commit()
            await first.commit()
        async with engine.connect() as connection:
            counted = (
                await connection.execute(text(f"SELECT * FROM ({KEPT.text}) AS kept WHERE team_id = :t"), {"t": team})
            ).one()
        assert tuple(counted) == (team, 2, 60)
    finally:
        async with engine.begin() as connection:
            await connection.execute(text("DELETE FROM hero WHERE id = ANY(:h)"), {"h": heroes})
            await connection.execute(text("DELETE FROM team WHERE id = :t"), {"t": team})
