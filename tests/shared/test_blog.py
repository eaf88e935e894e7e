"""Blog rules: users, posts, comments, and the trigram title search index."""

import pytest
from sqlmodel import text
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import flush
from shared.errors import ConstraintViolation
from shared.models.blog import Comment, Post
from tests.shared.factories import make_user


async def test_emails_are_unique_whatever_their_case(session: AsyncSession) -> None:
    await make_user(session, email="Ann@Example.com")
    with pytest.raises(ConstraintViolation) as caught:
        await make_user(session, email="ann@example.COM")
    assert caught.value.constraint == "uq_user_account_email_lower"
    assert caught.value.kind == "unique"


@pytest.mark.parametrize(
    ("fields", "constraint"),
    [
        ({"username": "ab"}, "ck_user_account_username_length"),
        ({"role": "owner"}, "ck_user_account_role_valid"),
    ],
)
async def test_user_rules_hold_in_the_database(
    session: AsyncSession, fields: dict[str, object], constraint: str
) -> None:
    with pytest.raises(ConstraintViolation) as caught:
        await make_user(session, **fields)
    assert caught.value.constraint == constraint


async def test_post_status_and_comment_moderation_are_constrained(session: AsyncSession) -> None:
    author = await make_user(session)
    with pytest.raises(ConstraintViolation) as caught:
        async with session.begin_nested():
            session.add(Post(title="T", content="c", author_id=author.id, status="deleted"))
            await flush(session)
    assert caught.value.constraint == "ck_post_status_valid"
    post = Post(title="T", content="c", author_id=author.id)
    session.add(post)
    await flush(session)
    # An approved comment must say when it was decided.
    session.add(Comment(content="hi", post_id=post.id, author_id=author.id, moderation_state="approved"))  # type: ignore[arg-type]
    with pytest.raises(ConstraintViolation) as caught:
        await flush(session)
    assert caught.value.constraint == "ck_comment_moderated_at_matches_state"


async def test_deleting_a_post_takes_its_comments(session: AsyncSession) -> None:
    author = await make_user(session)
    post = Post(title="T", content="c", author_id=author.id)
    session.add(post)
    await flush(session)
    session.add(Comment(content="hi", post_id=post.id, author_id=author.id))  # type: ignore[arg-type]
    await flush(session)
    await session.exec(text("DELETE FROM post WHERE id = :id"), params={"id": post.id})  # type: ignore[call-overload]
    left = await session.exec(text("SELECT count(*) FROM comment WHERE post_id = :id"), params={"id": post.id})  # type: ignore[call-overload]
    assert left.scalar_one() == 0


@pytest.mark.parametrize(("table", "index"), [("post", "ix_post_title_trgm"), ("article", "ix_article_title_trgm")])
async def test_case_insensitive_title_search_uses_the_trigram_index(
    session: AsyncSession, table: str, index: str
) -> None:
    author = await make_user(session)
    await session.exec(  # type: ignore[call-overload]
        text(
            f"INSERT INTO {table} (title, content, author_id) "
            "SELECT 'title number ' || g, 'body', :author FROM generate_series(1, 20000) g"
        ),
        params={"author": author.id},
    )
    # New rows wait in the GIN pending list until a vacuum; merge them now, as autovacuum
    # would in a live database, so the planner costs the index as it really is.
    await session.exec(text(f"SELECT gin_clean_pending_list('{index}')"))  # type: ignore[call-overload]
    await session.exec(text(f"ANALYZE {table}"))  # type: ignore[call-overload]
    plan = await session.exec(  # type: ignore[call-overload]
        text(f"EXPLAIN SELECT id FROM {table} WHERE title ILIKE :q"), params={"q": "%NUMBER 1234%"}
    )
    assert index in "\n".join(row[0] for row in plan.all())
