"""Posts through the API: writing, visibility, filters, title search, keyset pages, statement counts."""

from datetime import timedelta
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import delete
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import flush
from shared.models.base import now_utc
from shared.models.blog import Comment, ModerationState, Post, PostStatus
from shared.models.catalog import Category
from shared.models.users import Role
from tests.api.conftest import SignedIn
from tests.api.helpers import aware, make_comment, make_post, make_posts, walk
from tests.conftest import StatementLog
from tests.shared.factories import forge_cursor as encode_cursor
from tests.shared.factories import make_category_chain, make_user, unique

POSTS = "/api/v1/posts"


# --- creating ---------------------------------------------------------------------------------


async def test_a_logged_in_user_creates_a_draft_authored_by_them(client: AsyncClient, login) -> None:  # type: ignore[no-untyped-def]
    caller: SignedIn = await login(Role.author)
    response = await client.post(POSTS, json={"title": "Hello", "content": "World"}, headers=caller.headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "draft"
    assert body["author"] == {"id": caller.id, "username": caller.user.username}
    assert body["category"] is None and body["approved_comment_count"] == 0
    assert aware(body["created_at"]) and aware(body["updated_at"])


async def test_creating_a_post_needs_a_token(client: AsyncClient, session: AsyncSession) -> None:
    response = await client.post(POSTS, json={"title": "Hello", "content": "World"})
    assert response.status_code == 401
    assert (await session.exec(select(func.count()).select_from(Post))).one() == 0


async def test_a_post_in_a_category_shows_it_and_an_unknown_category_is_409(
    client: AsyncClient,
    session: AsyncSession,
    login,  # type: ignore[no-untyped-def]
) -> None:
    caller: SignedIn = await login()
    [category] = await make_category_chain(session, depth=1)
    data = {"title": "T", "content": "c", "status": "published", "category_id": category.id}
    created = await client.post(POSTS, json=data, headers=caller.headers)
    assert created.status_code == 201, created.text
    assert created.json()["category"] == {"id": category.id, "name": category.name}
    assert created.json()["status"] == "published"

    unknown = await client.post(POSTS, json=data | {"category_id": 999_999}, headers=caller.headers)
    assert unknown.status_code == 409
    assert unknown.json()["rule"] == "fk_post_category_id_category"
    assert "category does not exist" in unknown.json()["detail"]


async def test_invalid_post_input_is_422_naming_each_field_and_writes_nothing(
    client: AsyncClient,
    session: AsyncSession,
    login,  # type: ignore[no-untyped-def]
) -> None:
    caller: SignedIn = await login()
    bad = {"title": "", "content": "c", "status": "deleted", "colour": "red"}
    response = await client.post(POSTS, json=bad, headers=caller.headers)
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"body.title", "body.status", "body.colour"}
    too_long = await client.post(POSTS, json={"title": "x" * 201, "content": "c"}, headers=caller.headers)
    assert too_long.status_code == 422
    assert (await session.exec(select(func.count()).select_from(Post))).one() == 0


# --- visibility -------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [PostStatus.draft, PostStatus.archived])
async def test_drafts_and_archived_posts_are_404_except_for_their_author_and_admins(
    client: AsyncClient,
    session: AsyncSession,
    login,  # type: ignore[no-untyped-def]
    status: PostStatus,
) -> None:
    author: SignedIn = await login()
    hidden = await make_post(session, author, status=status)
    url = f"{POSTS}/{hidden.id}"
    for role in (Role.author, Role.moderator):
        other: SignedIn = await login(role)
        response = await client.get(url, headers=other.headers)
        assert response.status_code == 404, role
    assert (await client.get(url)).status_code == 404
    assert (await client.get(url, headers=author.headers)).json()["status"] == status
    admin: SignedIn = await login(Role.admin)
    assert (await client.get(url, headers=admin.headers)).status_code == 200


async def test_published_posts_are_public_and_unknown_ids_are_404(
    client: AsyncClient,
    session: AsyncSession,
    login,  # type: ignore[no-untyped-def]
) -> None:
    author: SignedIn = await login()
    post = await make_post(session, author)
    response = await client.get(f"{POSTS}/{post.id}")
    assert response.status_code == 200
    assert response.json()["id"] == post.id
    missing = await client.get(f"{POSTS}/999999")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


async def test_the_list_shows_published_posts_plus_the_callers_own_and_admins_see_all(
    client: AsyncClient,
    session: AsyncSession,
    login,  # type: ignore[no-untyped-def]
) -> None:
    author: SignedIn = await login()
    other: SignedIn = await login()
    admin: SignedIn = await login(Role.admin)
    published = await make_post(session, other)
    others_draft = await make_post(session, other, status=PostStatus.draft)
    own_draft = await make_post(session, author, status=PostStatus.draft)
    own_archived = await make_post(session, author, status=PostStatus.archived)
    assert set(await walk(client, POSTS)) == {published.id}
    assert set(await walk(client, POSTS, author.headers)) == {published.id, own_draft.id, own_archived.id}
    assert set(await walk(client, POSTS, admin.headers)) == {
        published.id,
        others_draft.id,
        own_draft.id,
        own_archived.id,
    }
    # Asking for drafts does not reveal anyone else's.
    assert await walk(client, POSTS, author.headers, status="draft") == [own_draft.id]


# --- filters and search -----------------------------------------------------------------------


async def test_the_list_filters_by_status_author_and_category_with_or_without_subcategories(
    client: AsyncClient,
    session: AsyncSession,
    login,  # type: ignore[no-untyped-def]
) -> None:
    ann: SignedIn = await login()
    bob: SignedIn = await login()
    root, child, grandchild = await make_category_chain(session, depth=3)
    in_root = await make_post(session, ann, category_id=root.id)
    in_child = await make_post(session, bob, category_id=child.id)
    in_grandchild = await make_post(session, ann, category_id=grandchild.id, status=PostStatus.archived)
    uncategorised = await make_post(session, bob)

    assert set(await walk(client, POSTS, ann.headers, status="archived")) == {in_grandchild.id}
    assert set(await walk(client, POSTS, author_id=bob.id)) == {in_child.id, uncategorised.id}
    assert await walk(client, POSTS, category_id=root.id) == [in_root.id]
    subtree = await walk(client, POSTS, ann.headers, category_id=root.id, include_subcategories="true")
    assert set(subtree) == {in_root.id, in_child.id, in_grandchild.id}
    assert set(await walk(client, POSTS, category_id=child.id, include_subcategories="true")) == {in_child.id}
    # Filters combine.
    assert await walk(client, POSTS, category_id=root.id, include_subcategories="true", author_id=bob.id) == [
        in_child.id
    ]


async def test_title_search_ignores_case_and_takes_like_wildcards_literally(
    client: AsyncClient,
    session: AsyncSession,
    login,  # type: ignore[no-untyped-def]
) -> None:
    author: SignedIn = await login()
    percent = await make_post(session, author, title="100% Pure Cotton")
    plain = await make_post(session, author, title="100 pure wool")
    underscore = await make_post(session, author, title="snake_case names")
    lookalike = await make_post(session, author, title="snakeXcase names")
    backslash = await make_post(session, author, title=r"C:\temp paths")

    assert set(await walk(client, POSTS, q="PURE")) == {percent.id, plain.id}
    assert await walk(client, POSTS, q="100%") == [percent.id]
    assert await walk(client, POSTS, q="e_c") == [underscore.id]
    assert set(await walk(client, POSTS, q="names")) == {underscore.id, lookalike.id}
    assert await walk(client, POSTS, q="\\te") == [backslash.id]  # a backslash, taken literally
    assert await walk(client, POSTS, q="nothing like it") == []


# --- pagination -------------------------------------------------------------------------------


@pytest.mark.parametrize("limit", ["0", "101", "ten"])
async def test_a_limit_outside_1_to_100_is_422(client: AsyncClient, limit: str) -> None:
    response = await client.get(POSTS, params={"limit": limit})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["query.limit"]


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor!",
        encode_cursor({"id": 1}),
        encode_cursor({"at": "yesterday", "id": 1}),
        encode_cursor({"at": "2026-01-01T00:00:00", "id": 1}),  # naive
        encode_cursor({"at": "2026-01-01T00:00:00+00:00", "id": "1"}),
    ],
)
async def test_a_cursor_this_service_did_not_make_is_422_on_query_cursor(client: AsyncClient, cursor: str) -> None:
    response = await client.get(POSTS, params={"cursor": cursor})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["query.cursor"]


async def test_walking_the_pages_serves_every_visible_post_exactly_once_newest_first(
    client: AsyncClient,
    session: AsyncSession,
    login,  # type: ignore[no-untyped-def]
) -> None:
    author: SignedIn = await login()
    other: SignedIn = await login()
    now = now_utc()
    # Three posts share one created_at: the id breaks the tie, so none is skipped or repeated.
    same_moment = await make_posts(session, other, 3, created_at=now)
    older = [await make_post(session, other, created_at=now - timedelta(minutes=i)) for i in range(1, 6)]
    own_drafts = await make_posts(session, author, 2, status="draft", created_at=now - timedelta(minutes=2))
    await make_posts(session, other, 2, status="draft")  # never visible to `author`

    visible = [*same_moment, *older, *own_drafts]
    expected = [p.id for p in sorted(visible, key=lambda p: (p.created_at, p.id), reverse=True)]
    first = await client.get(POSTS, params={"limit": 3}, headers=author.headers)
    assert len(first.json()["items"]) == 3 and first.json()["next_cursor"] is not None
    assert await walk(client, POSTS, author.headers, limit=3) == expected
    assert await walk(client, POSTS, author.headers, limit=100) == expected
    # A page that ends exactly at the last post says there is nothing more.
    exact = await client.get(POSTS, params={"limit": len(expected)}, headers=author.headers)
    assert exact.json()["next_cursor"] is None


# --- what a post shows, and at what cost ------------------------------------------------------


async def test_a_post_shows_its_author_category_and_approved_comment_count(
    client: AsyncClient,
    session: AsyncSession,
    login,  # type: ignore[no-untyped-def]
) -> None:
    author: SignedIn = await login()
    [category] = await make_category_chain(session, depth=1)
    post = await make_post(session, author, category_id=category.id)
    for state in (
        ModerationState.approved,
        ModerationState.approved,
        ModerationState.pending,
        ModerationState.rejected,
    ):
        await make_comment(session, post, author, state)
    for response in (await client.get(f"{POSTS}/{post.id}"), await client.get(POSTS)):
        assert response.status_code == 200
        body = response.json()
        shown = body["items"][0] if "items" in body else body
        assert shown["author"] == {"id": author.id, "username": author.user.username}
        assert shown["category"] == {"id": category.id, "name": category.name}
        assert shown["approved_comment_count"] == 2


async def _statements_for_a_page_of(
    client: AsyncClient, session: AsyncSession, statements: StatementLog, caller: SignedIn, count: int
) -> int:
    categories = [Category(name=unique("category")) for _ in range(3)]
    session.add_all(categories)
    await flush(session)
    authors = [await make_user(session) for _ in range(3)]
    posts = []
    for i in range(count):
        posts.append(
            Post(
                title=unique("title"),
                content="body",
                status="published",
                author_id=authors[i % 3].id,  # type: ignore[arg-type]
                category_id=categories[i % 3].id if i % 4 else None,
            )
        )
    session.add_all(posts)
    await flush(session)
    for post in posts:
        await make_comment(session, post, caller, ModerationState.approved)
    with statements.record():
        response = await client.get(POSTS, params={"limit": 100}, headers=caller.headers)
    assert response.status_code == 200
    assert len(response.json()["items"]) == count
    assert all(item["approved_comment_count"] == 1 for item in response.json()["items"])
    return statements.count


@pytest.mark.parametrize("role", [Role.author, Role.admin])
async def test_listing_posts_takes_the_same_statements_for_3_and_30_posts(
    client: AsyncClient,
    session: AsyncSession,
    statements: StatementLog,
    login,  # type: ignore[no-untyped-def]
    role: Role,
) -> None:
    caller: SignedIn = await login(role)
    small = await _statements_for_a_page_of(client, session, statements, caller, 3)
    await session.exec(delete(Post))  # type: ignore[call-overload]
    large = await _statements_for_a_page_of(client, session, statements, caller, 30)
    assert small == large


async def test_reading_one_post_takes_a_fixed_number_of_statements(
    client: AsyncClient,
    session: AsyncSession,
    statements: StatementLog,
    login,  # type: ignore[no-untyped-def]
) -> None:
    author: SignedIn = await login()
    few = await make_post(session, author)
    many = await make_post(session, author)
    for _ in range(2):
        await make_comment(session, few, author, ModerationState.approved)
    for _ in range(20):
        await make_comment(session, many, author, ModerationState.approved)
    counts = []
    for post in (few, many):
        with statements.record():
            assert (await client.get(f"{POSTS}/{post.id}", headers=author.headers)).status_code == 200
        counts.append(statements.count)
    assert counts[0] == counts[1]


# --- editing and deleting ---------------------------------------------------------------------


async def test_the_author_edits_their_post_and_updated_at_moves(
    client: AsyncClient,
    session: AsyncSession,
    login,  # type: ignore[no-untyped-def]
) -> None:
    author: SignedIn = await login()
    long_ago = now_utc() - timedelta(days=1)
    post = await make_post(session, author, status=PostStatus.draft, created_at=long_ago, updated_at=long_ago)
    [category] = await make_category_chain(session, depth=1)
    response = await client.patch(
        f"{POSTS}/{post.id}", json={"status": "published", "category_id": category.id}, headers=author.headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "published" and body["title"] == post.title
    assert body["category"] == {"id": category.id, "name": category.name}
    assert aware(body["updated_at"]) > long_ago
    assert aware(body["created_at"]) == long_ago
    cleared = await client.patch(f"{POSTS}/{post.id}", json={"category_id": None}, headers=author.headers)
    assert cleared.json()["category"] is None


async def test_admins_edit_any_post_and_other_authors_get_403(
    client: AsyncClient,
    session: AsyncSession,
    login,  # type: ignore[no-untyped-def]
) -> None:
    author: SignedIn = await login()
    post = await make_post(session, author)
    for role in (Role.author, Role.moderator):
        other: SignedIn = await login(role)
        denied = await client.patch(f"{POSTS}/{post.id}", json={"title": "mine now"}, headers=other.headers)
        assert denied.status_code == 403, role
    admin: SignedIn = await login(Role.admin)
    edited = await client.patch(f"{POSTS}/{post.id}", json={"title": "Edited"}, headers=admin.headers)
    assert edited.status_code == 200
    assert edited.json()["title"] == "Edited" and edited.json()["author"]["id"] == author.id


async def test_editing_someone_elses_draft_is_404_not_403(
    client: AsyncClient,
    session: AsyncSession,
    login,  # type: ignore[no-untyped-def]
) -> None:
    author: SignedIn = await login()
    other: SignedIn = await login()
    draft = await make_post(session, author, status=PostStatus.draft)
    assert (await client.patch(f"{POSTS}/{draft.id}", json={"title": "x"}, headers=other.headers)).status_code == 404
    assert (await client.delete(f"{POSTS}/{draft.id}", headers=other.headers)).status_code == 404


async def test_bad_edits_are_refused_and_change_nothing(
    client: AsyncClient,
    session: AsyncSession,
    login,  # type: ignore[no-untyped-def]
) -> None:
    author: SignedIn = await login()
    post = await make_post(session, author, title="Original")
    url = f"{POSTS}/{post.id}"
    assert (await client.patch(url, json={"title": "x"})).status_code == 401
    for body, field in (({"title": None}, "body"), ({"title": ""}, "body.title"), ({"author_id": 1}, "body.author_id")):
        response = await client.patch(url, json=body, headers=author.headers)
        assert response.status_code == 422, body
        assert field in {e["field"] for e in response.json()["errors"]}
    unknown_category = await client.patch(url, json={"category_id": 999_999}, headers=author.headers)
    assert unknown_category.status_code == 409
    assert (await client.patch(f"{POSTS}/999999", json={"title": "x"}, headers=author.headers)).status_code == 404
    assert (await client.get(url)).json()["title"] == "Original"


async def test_deleting_a_post_is_for_its_author_or_an_admin_and_takes_its_comments(
    client: AsyncClient,
    session: AsyncSession,
    login,  # type: ignore[no-untyped-def]
) -> None:
    author: SignedIn = await login()
    other: SignedIn = await login()
    admin: SignedIn = await login(Role.admin)
    post = await make_post(session, author)
    await make_comment(session, post, other, ModerationState.approved)
    second = await make_post(session, author)
    url = f"{POSTS}/{post.id}"
    assert (await client.delete(url)).status_code == 401
    assert (await client.delete(url, headers=other.headers)).status_code == 403
    assert (await client.delete(url, headers=author.headers)).status_code == 204
    assert (await client.get(url)).status_code == 404
    comments_left = select(func.count()).select_from(Comment).where(col(Comment.post_id) == post.id)
    assert (await session.exec(comments_left)).one() == 0
    assert (await client.delete(url, headers=author.headers)).status_code == 404
    assert (await client.delete(f"{POSTS}/{second.id}", headers=admin.headers)).status_code == 204


# --- input the database could not take is refused up front -----------------------------------


@pytest.mark.parametrize(
    ("method", "path", "params", "body", "field"),
    [
        ("GET", f"{POSTS}/2147483648", {}, None, "path.post_id"),
        ("GET", POSTS, {"author_id": 2**40}, None, "query.author_id"),
        ("GET", POSTS, {"category_id": 0}, None, "query.category_id"),
        ("GET", POSTS, {"q": "a\x00b"}, None, "query.q"),
        (
            "GET",
            POSTS,
            {"cursor": encode_cursor({"at": "2026-01-01T00:00:00+00:00", "id": 2**40})},
            None,
            "query.cursor",
        ),
        ("POST", POSTS, {}, {"title": "t", "content": "c", "category_id": 2**40}, "body.category_id"),
        ("POST", POSTS, {}, {"title": "t\x00", "content": "c"}, "body.title"),
        ("PATCH", f"{POSTS}/99999999999", {}, {"title": "t"}, "path.post_id"),
    ],
)
async def test_out_of_range_ids_and_nul_characters_are_422_not_500(
    client: AsyncClient,
    login,  # type: ignore[no-untyped-def]
    method: str,
    path: str,
    params: dict[str, Any],
    body: dict[str, Any] | None,
    field: str,
) -> None:
    caller: SignedIn = await login()
    response = await client.request(method, path, params=params, json=body, headers=caller.headers)
    assert response.status_code == 422, response.text
    assert field in {e["field"] for e in response.json()["errors"]}
