"""More plans the growth benchmark asked for (migration 0015): a big team's heroes, a much-moved
hero's transfers, everyone's articles and the images, each page one index range in its order."""

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.auth.callers import Caller
from shared.heroes import queries
from shared.models.users import Role
from shared.schemas import TimeIdPosition
from shared.tagging.queries import articles_page, images_page
from tests.shared.factories import make_user
from tests.support.plans import explain_what_runs

FULL_SORT = re.compile(r"(?<!Incremental )Sort  \(")


async def run(session: AsyncSession, sql: str, **params: object) -> None:
    await session.exec(text(sql), params=params)  # type: ignore[call-overload]


async def test_a_big_teams_heroes_and_a_busy_heroes_transfers_come_in_index_order(session: AsyncSession) -> None:
    await run(session, "INSERT INTO team (name) SELECT 'plans team ' || g FROM generate_series(1, 200) g")
    await run(
        session,
        "INSERT INTO hero (name, secret_identity, age, power_level, team_id) SELECT 'plans hero ' || g, 'p' || g,"
        " 30, 10, (SELECT min(id) FROM team WHERE name LIKE 'plans team %') + g % 200 FROM generate_series(1, 40000) g",
    )
    hero = (await session.exec(text("SELECT min(id) FROM hero WHERE name LIKE 'plans hero %'"))).one()[0]  # type: ignore[call-overload]
    await run(
        session,
        "INSERT INTO transfer_log (hero_id, transfer_date, logged_at) SELECT :h, now() - g * interval '1 minute',"
        " now() FROM generate_series(1, 20000) g",
        h=hero,
    )
    for table in ("hero", "team", "transfer_log"):
        await run(session, f"ANALYZE {table}")
    [heroes] = await explain_what_runs(
        session, lambda: queries.filter_heroes(session, team_name="plans team 7", limit=20, after_id=hero + 5000)
    )
    assert "ix_hero_team_id_id" in heroes and "Sort" not in heroes and "Seq Scan on hero" not in heroes, heroes
    after = TimeIdPosition(at=datetime.now(UTC) - timedelta(days=3), id=1)
    [transfers] = await explain_what_runs(
        session, lambda: queries.transfer_history(session, hero, limit=20, after=after)
    )
    assert "ix_transfer_log_hero_id_transfer_date_id" in transfers and "Sort" not in transfers, transfers


async def test_everyones_articles_and_the_images_come_in_index_order(session: AsyncSession) -> None:
    author = await make_user(session)
    admin = await make_user(session, role=Role.admin)
    await run(
        session,
        "INSERT INTO article (title, content, status, author_id, created_at) SELECT 'plans ' || g, 'b',"
        " CASE WHEN g % 3 = 0 THEN 'draft' ELSE 'published' END, :a, now() - g * interval '1 second'"
        " FROM generate_series(1, 20000) g",
        a=author.id,
    )
    await run(
        session,
        "INSERT INTO image (filename, alt_text, author_id, created_at) SELECT 'p' || g || '.png', 'alt', :a,"
        " now() - g * interval '1 second' FROM generate_series(1, 20000) g",
        a=author.id,
    )
    for table in ("article", "image"):
        await run(session, f"ANALYZE {table}")
    after = TimeIdPosition(at=datetime.now(UTC) - timedelta(hours=1), id=1)
    as_admin = Caller(id=admin.id, username=admin.username, role=Role.admin)  # type: ignore[arg-type]
    for viewer in (as_admin, None):
        [articles] = await explain_what_runs(
            session,
            lambda v=viewer: articles_page(session, viewer=v, limit=20, after=after),  # type: ignore[misc]
        )
        # A full sort is the growth; an incremental one (ties on created_at, in the partial index of
        # published ones, anonymous) sorts only rows of equal times.
        assert not FULL_SORT.search(articles) and "Seq Scan on article" not in articles, articles
    [images] = await explain_what_runs(session, lambda: images_page(session, limit=20, after=after))
    assert "ix_image_created_at_id" in images and "Sort" not in images, images
