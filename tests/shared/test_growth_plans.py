"""The plans that keep a request's cost flat as its table grows (issue 21, bench/growth.py): each
list walks an index in its own order and stops after its page; no aggregate reads a team's heroes.
The tables are filled enough (and ANALYZEd) for the planner to cost them as a large database."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.blog.comment_queries import comment_page_statement
from shared.blog.queries import post_page_statement
from shared.blog.schemas import PostFilters
from shared.heroes import queries
from shared.heroes.team_stats import fold
from shared.models.blog import PostStatus
from shared.models.users import Role, User
from shared.schemas import TimeIdPosition
from tests.shared.factories import make_user
from tests.support.plans import explain

POSTS = 30_000


async def fill_posts(session: AsyncSession) -> User:
    author = await make_user(session)
    await session.exec(  # type: ignore[call-overload]
        text(
            "INSERT INTO post (title, content, author_id, status, created_at) "
            "SELECT 'post ' || g, 'body', :author, "
            "(ARRAY['draft', 'published', 'published', 'published', 'archived'])[1 + g % 5], "
            "now() - g * interval '1 second' FROM generate_series(1, :n) g"
        ),
        params={"author": author.id, "n": POSTS},
    )
    await session.exec(text("ANALYZE post"))  # type: ignore[call-overload]
    return author


@pytest.mark.parametrize("viewer_role", [Role.admin, Role.author])
@pytest.mark.parametrize("deep", [False, True])
async def test_the_post_list_without_a_status_walks_its_index_and_sorts_nothing(
    session: AsyncSession, viewer_role: Role, deep: bool
) -> None:
    """An admin sees every post, an author the published ones and their own: neither narrows by
    status, so ix_post_status_created_at cannot give the order. ix_post_created_at_id does, read
    backwards, newest first, to the end of the page (before it: a sort of the whole table)."""
    await fill_posts(session)
    viewer = await make_user(session, role=viewer_role)
    after = None
    if deep:
        at = (
            await session.exec(text("SELECT created_at, id FROM post ORDER BY created_at, id LIMIT 1 OFFSET 500"))
        ).one()  # type: ignore[call-overload]
        after = TimeIdPosition(at=at[0], id=at[1])
    statement = post_page_statement(viewer, PostFilters(), limit=20, after=after)  # type: ignore[arg-type]
    _, plan = await explain(session, statement)
    assert "ix_post_created_at_id" in plan, plan
    assert "Sort" not in plan, plan  # no sort of the table, incremental or not
    assert "Seq Scan on post" not in plan, plan


@pytest.mark.parametrize("status", list(PostStatus))
async def test_a_status_filter_reads_the_status_index(session: AsyncSession, status: PostStatus) -> None:
    await fill_posts(session)
    admin = await make_user(session, role=Role.admin)
    _, plan = await explain(session, post_page_statement(admin, PostFilters(status=status), limit=20))  # type: ignore[arg-type]
    assert "ix_post_status_created_at" in plan or "ix_post_created_at_id" in plan, plan
    assert "Seq Scan on post" not in plan, plan


async def fill_teams(session: AsyncSession, teams: int = 2_000, heroes_per_team: int = 20) -> None:
    await session.exec(  # type: ignore[call-overload]
        text("INSERT INTO team (name) SELECT 'plan team ' || g FROM generate_series(1, :n) g"), params={"n": teams}
    )
    await session.exec(  # type: ignore[call-overload]
        text(
            "INSERT INTO hero (name, secret_identity, age, power_level, team_id) "
            "SELECT 'plan hero ' || g, 'id ' || team.id || '-' || g, 18 + g % 60, 10, team.id "
            "FROM team, generate_series(1, :k) g WHERE team.name LIKE 'plan team %'"
        ),
        params={"k": heroes_per_team},
    )
    for table in ("team", "team_stats", "hero"):
        await session.exec(text(f"ANALYZE {table}"))  # type: ignore[call-overload]


async def test_the_team_page_reads_kept_counts_not_heroes(session: AsyncSession) -> None:
    await fill_teams(session)
    sql, plan = await explain(session, queries.teams_page_statement(limit=20, after_name="plan team 5"))
    assert " hero " not in sql and "hero." not in sql, sql  # team_stats and its deltas only
    assert "Index Scan using uq_team_name" in plan, plan
    assert "ix_team_stats_delta_team_id" in plan, plan  # each team's few pending deltas
    assert "Seq Scan" not in plan, plan


async def test_the_oldest_team_is_the_first_entry_of_its_index(session: AsyncSession) -> None:
    """As between folds: most teams folded, a few with deltas waiting (judged on exact figures)."""
    await fill_teams(session)
    while await fold(session):
        pass
    two_teams = "SELECT min(team_id) FROM hero WHERE name LIKE 'plan hero %' UNION SELECT max(team_id) FROM hero"
    await session.exec(text(f"UPDATE hero SET age = age + 1 WHERE team_id IN ({two_teams})"))  # type: ignore[call-overload]
    for table in ("team_stats", "team_stats_delta"):
        await session.exec(text(f"ANALYZE {table}"))  # type: ignore[call-overload]
    team = queries.oldest_team_statement().scalar_subquery()
    _, plan = await explain(session, queries.heroes_of_team_statement(team, limit=50))
    assert "ix_team_stats_average_age" in plan, plan
    assert "ix_hero_team_id" in plan, plan
    assert "Seq Scan on hero" not in plan and "Seq Scan on team_stats " not in plan, plan


@pytest.mark.parametrize("status", [PostStatus.draft, PostStatus.archived])
@pytest.mark.parametrize("deep", [False, True])
@pytest.mark.parametrize("prolific", [False, True])
async def test_an_authors_own_drafts_are_one_range_of_their_index(
    session: AsyncSession, status: PostStatus, deep: bool, prolific: bool
) -> None:
    """Drafts and archived posts a signed-in author may list are their own only: the page is a range
    of ix_post_author_id_status_created_at, not every author's drafts sorted (7-20x at 10^6), nor a
    walk of the whole post list from the cursor (an author with none read it all: 23x)."""
    writer = await fill_posts(session)  # wrote all of them
    viewer = writer if prolific else await make_user(session, role=Role.author)  # or none at all
    after = TimeIdPosition(at=datetime.now(UTC) - timedelta(hours=2), id=1) if deep else None
    statement = post_page_statement(viewer, PostFilters(status=status), limit=20, after=after)  # type: ignore[arg-type]
    _, plan = await explain(session, statement)
    assert "ix_post_created_at_id" not in plan and "ix_post_status_created_at" not in plan, plan  # no walk of all
    assert "Seq Scan on post" not in plan, plan
    if prolific:  # thousands of their own: the range of the index, in its order
        assert "ix_post_author_id_status_created_at" in plan and "Sort" not in plan, plan


@pytest.mark.parametrize("all_states", [False, True])
async def test_a_busy_posts_comment_page_is_one_range_of_its_index(session: AsyncSession, all_states: bool) -> None:
    author = await fill_posts(session)
    post_id = (await session.exec(text("SELECT min(id) FROM post"))).one()[0]  # type: ignore[call-overload]
    await session.exec(  # type: ignore[call-overload]
        text(
            "INSERT INTO comment (content, post_id, author_id, moderation_state, moderated_at, created_at) "
            "SELECT 'c ' || g, :post, :author, CASE WHEN g % 10 = 0 THEN 'pending' ELSE 'approved' END, "
            "CASE WHEN g % 10 = 0 THEN NULL ELSE now() END, now() - g * interval '1 second' "
            "FROM generate_series(1, 20000) g"
        ),
        params={"post": post_id, "author": author.id},
    )
    await session.exec(text("ANALYZE comment"))  # type: ignore[call-overload]
    after = TimeIdPosition(at=datetime.now(UTC) - timedelta(hours=3), id=1)
    statement = comment_page_statement(post_id, all_states=all_states, limit=20, after=after)
    _, plan = await explain(session, statement)
    # Either index gives the order; for approved comments (most of them) the planner may walk the
    # one without the state and filter: still at most a page's worth of rows past the few it skips.
    assert "ix_comment_post_id_created_at" in plan or "ix_comment_post_id_state_created_at" in plan, plan
    assert "Sort" not in plan and "Seq Scan on comment" not in plan, plan
