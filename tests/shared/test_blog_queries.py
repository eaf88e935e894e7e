"""Blog queries below the API: the plan of the title search, LIKE escaping, keyset positions."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.blog.queries import escape_like, post_page_statement
from shared.blog.schemas import PostFilters
from shared.models.users import Role, User
from shared.schemas import InvalidCursor, TimeIdPosition
from tests.shared.factories import forge_cursor, make_user
from tests.support.plans import explain


@pytest.mark.parametrize("viewer_role", [None, Role.author, Role.admin])
async def test_the_post_list_title_search_uses_the_trigram_index(
    session: AsyncSession, viewer_role: Role | None
) -> None:
    author = await make_user(session)
    viewer: User | None = None if viewer_role is None else await make_user(session, role=viewer_role)
    await session.exec(  # type: ignore[call-overload]
        text(
            "INSERT INTO post (title, content, author_id, status, created_at) "
            "SELECT 'title number ' || g, 'body', :author, "
            "CASE WHEN g % 10 = 0 THEN 'draft' ELSE 'published' END, now() - g * interval '1 second' "
            "FROM generate_series(1, 20000) g"
        ),
        params={"author": author.id},
    )
    # New rows wait in the GIN pending list until a vacuum; merge them now, as autovacuum
    # would in a live database, so the planner costs the index as it really is.
    await session.exec(text("SELECT gin_clean_pending_list('ix_post_title_trgm')"))  # type: ignore[call-overload]
    await session.exec(text("ANALYZE post"))  # type: ignore[call-overload]
    statement = post_page_statement(viewer, PostFilters(q="NUMBER 1234"), limit=20)
    sql, plan = await explain(session, statement)
    assert "post.title ILIKE" in sql
    assert "ix_post_title_trgm" in plan, plan


@pytest.mark.parametrize(
    ("term", "pattern"),
    [("plain", "plain"), ("100%", "100\\%"), ("a_b", "a\\_b"), ("C:\\temp", "C:\\\\temp")],
)
def test_like_wildcards_in_a_search_term_are_escaped(term: str, pattern: str) -> None:
    assert escape_like(term) == pattern


def test_a_keyset_position_survives_its_cursor() -> None:
    position = TimeIdPosition(at=datetime(2026, 11, 24, 12, 30, 1, 123456, tzinfo=UTC), id=42)
    assert TimeIdPosition.decode(position.encode()) == position
    assert TimeIdPosition.decode(None) is None


@pytest.mark.parametrize(
    "cursor",
    [
        "%%%",
        forge_cursor({}),
        forge_cursor({"at": None, "id": 1}),
        forge_cursor({"at": "2026-01-01T00:00:00", "id": 1}),  # naive
        forge_cursor({"at": "0001-01-01T00:00:00+14:00", "id": 1}),  # before year 1 in UTC
        forge_cursor({"at": "2026-01-01T00:00:00+00:00", "id": 2**40}),  # past int4
        forge_cursor({"at": "2026-01-01T00:00:00+00:00", "id": 1, "extra": 1}),
    ],
)
def test_a_foreign_cursor_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        TimeIdPosition.decode(cursor)
