"""The post list's title search (`GET /api/v1/posts?q=`) takes only terms the trigram index can
serve: over HTTP, as an anonymous caller, an author, a moderator and an admin.

A term of 1 or 2 characters has no trigram, nor has one of 3 or more made only of spaces and
punctuation ("%%%", "   "), so ILIKE '%q%' could only read every post (276 ms at 1,000,000 posts,
against 3 ms through ix_post_title_trgm). Both are refused with a 422 naming `query.q` and the rule,
before any SQL about posts runs; a 3-character term is served by the index (EXPLAIN of the very
statement the request sent)."""

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.blog.queries import SEARCH_MIN_LENGTH, SEARCH_RULE, searchable
from shared.models.users import Role
from tests.api.conftest import SignedIn
from tests.conftest import StatementLog
from tests.shared.factories import make_user

Login = Callable[..., Awaitable[SignedIn]]

POSTS = "/api/v1/posts"
VIEWERS = ["anonymous", "author", "moderator", "admin"]


async def headers_of(login: Login, viewer: str) -> dict[str, str]:
    if viewer == "anonymous":
        return {}
    caller: SignedIn = await login(Role(viewer))
    return caller.headers


def post_statements(statements: StatementLog) -> list[str]:
    return [s for s in statements.statements if "FROM post" in s]


@pytest.mark.parametrize("viewer", VIEWERS)
@pytest.mark.parametrize("q", ["a", "ab", "é!"])
async def test_a_search_term_under_3_characters_is_422_naming_the_field_and_the_rule(
    client: AsyncClient, login: Login, statements: StatementLog, viewer: str, q: str
) -> None:
    headers = await headers_of(login, viewer)
    with statements.record():
        response = await client.get(POSTS, params={"q": q}, headers=headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 422 and "query.q" in body["detail"]
    [error] = body["errors"]
    assert error["field"] == "query.q" and error["type"] == "too_short"
    # pydantic's words for a length rule checked after a validator (shared.schemas.StoredText) say
    # "items" for characters; the rule, its bound and the field are what a client reads.
    assert f"at least {SEARCH_MIN_LENGTH} " in error["message"]
    assert post_statements(statements) == []  # refused before any post is read


@pytest.mark.parametrize("viewer", VIEWERS)
@pytest.mark.parametrize("q", ["%%%", "   ", "...", "a!!", "C++"])
async def test_a_term_without_a_trigram_is_422_naming_the_field_and_the_rule(
    client: AsyncClient, login: Login, statements: StatementLog, viewer: str, q: str
) -> None:
    headers = await headers_of(login, viewer)
    with statements.record():
        response = await client.get(POSTS, params={"q": q}, headers=headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["rule"] == SEARCH_RULE
    [error] = body["errors"]
    assert error["field"] == "query.q" and "title index" in error["message"]
    assert post_statements(statements) == []


@pytest.mark.parametrize(
    ("term", "indexable"),
    [
        ("abc", True),
        ("ab ", True),  # "ab " is a trigram: a word followed by a space is padded with one
        ("!!a", True),  # "  a": a word after a space or punctuation mark is padded with two
        ("a b", True),
        ("\\te", True),
        ("100%", True),
        ("日本語", True),
        ("%%%", False),
        ("   ", False),
        ("a!!", False),  # "a " is 2 characters: no trigram
        ("C++", False),
    ],
)
def test_which_terms_give_the_trigram_index_something_to_look_up(term: str, indexable: bool) -> None:
    assert searchable(term) is indexable


def test_openapi_documents_the_minimum_length_of_q(app: FastAPI) -> None:
    [q] = [p for p in app.openapi()["paths"][POSTS]["get"]["parameters"] if p["name"] == "q"]
    schema = q["schema"]["anyOf"][0]
    assert schema["minLength"] == SEARCH_MIN_LENGTH
    assert "at least 3 characters" in q["description"] and SEARCH_RULE in q["description"]


@pytest.fixture
def sent(engine: AsyncEngine) -> Iterator[list[tuple[str, Any]]]:
    """(SQL, parameters) of each title search the app sends, exactly as it sends them."""
    searches: list[tuple[str, Any]] = []

    def on_execute(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if "ILIKE" in statement:
            searches.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", on_execute)
    yield searches
    event.remove(engine.sync_engine, "before_cursor_execute", on_execute)


@pytest.mark.parametrize("viewer", VIEWERS)
async def test_a_3_character_search_is_served_by_the_trigram_index(
    client: AsyncClient,
    session: AsyncSession,
    connection: AsyncConnection,
    login: Login,
    sent: list[tuple[str, Any]],
    viewer: str,
) -> None:
    author = await make_user(session)
    await session.exec(  # type: ignore[call-overload]
        text(
            "INSERT INTO post (title, content, author_id, status, created_at) "
            "SELECT 'title number ' || g, 'body', :author, "
            "CASE WHEN g % 10 = 0 THEN 'draft' ELSE 'published' END, now() - g * interval '1 second' "
            "FROM generate_series(1, 20000) g"
        ),
        params={"author": author.id},
    )
    await session.exec(  # type: ignore[call-overload]
        text(
            "INSERT INTO post (title, content, author_id, status, created_at) "
            "SELECT 'quokka facts ' || g, 'body', :author, 'published', now() FROM generate_series(1, 3) g"
        ),
        params={"author": author.id},
    )
    # New rows wait in the GIN pending list until a vacuum; merge them now, as autovacuum would in a
    # live database, so the planner costs the index as it really is.
    await session.exec(text("SELECT gin_clean_pending_list('ix_post_title_trgm')"))  # type: ignore[call-overload]
    await session.exec(text("ANALYZE post"))  # type: ignore[call-overload]
    response = await client.get(POSTS, params={"q": "OKK"}, headers=await headers_of(login, viewer))
    assert response.status_code == 200, response.text
    assert {post["title"] for post in response.json()["items"]} == {f"quokka facts {g}" for g in (1, 2, 3)}
    [(statement, parameters)] = sent
    plan = await connection.exec_driver_sql(f"EXPLAIN {statement}", parameters)
    lines = "\n".join(row[0] for row in plan.all())
    assert "ix_post_title_trgm" in lines, lines
