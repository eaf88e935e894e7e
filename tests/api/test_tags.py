"""Articles, images and polymorphic tags over HTTP: ownership, draft visibility, tag sets, flat statement counts."""

from collections.abc import Sequence

import pytest
from httpx import AsyncClient
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import flush
from shared.models.tagging import Article, ArticleStatus, Image, Tag, TaggableType
from shared.models.users import Role
from shared.tagging import queries
from tests.api.conftest import SignedIn
from tests.conftest import StatementLog
from tests.shared.factories import make_user, unique

API = "/api/v1"


async def add_articles(
    session: AsyncSession,
    author_id: int,
    count: int,
    *,
    status: str = ArticleStatus.published,
    tags: Sequence[str] = (),
) -> list[Article]:
    rows = [Article(title=unique("article"), content="...", author_id=author_id, status=status) for _ in range(count)]
    session.add_all(rows)
    await flush(session)
    for row in rows:
        if tags:
            await queries.replace_tags(session, TaggableType.article, row.id, tags)  # type: ignore[arg-type]
    return rows


async def add_images(session: AsyncSession, author_id: int, count: int, *, tags: Sequence[str] = ()) -> list[Image]:
    rows = [Image(filename=f"{unique('img')}.png", alt_text="alt", author_id=author_id) for _ in range(count)]
    session.add_all(rows)
    await flush(session)
    for row in rows:
        if tags:
            await queries.replace_tags(session, TaggableType.image, row.id, tags)  # type: ignore[arg-type]
    return rows


async def tag_rows(session: AsyncSession, kind: str, item_id: int) -> list[str]:
    statement = select(Tag.name).where(col(Tag.taggable_type) == kind, col(Tag.taggable_id) == item_id)
    return sorted((await session.exec(statement)).all())


# --- articles -----------------------------------------------------------------------------------


async def test_an_author_writes_an_article_with_normalized_tags(client: AsyncClient, login) -> None:  # type: ignore[no-untyped-def]
    author: SignedIn = await login(Role.author)
    body = {"title": " Async SQLModel ", "content": "text", "tags": [" Python ", "python", "ASYNC"]}
    created = await client.post(f"{API}/articles", json=body, headers=author.headers)
    assert created.status_code == 201, created.text
    article = created.json()
    assert article["title"] == "Async SQLModel" and article["author_id"] == author.id
    assert article["status"] == "draft" and article["tags"] == ["async", "python"]
    read = await client.get(f"{API}/articles/{article['id']}", headers=author.headers)
    assert read.status_code == 200 and read.json() == article


async def test_article_and_image_writes_need_a_token(client: AsyncClient, session: AsyncSession) -> None:
    owner = await make_user(session)
    [article] = await add_articles(session, owner.id, 1)  # type: ignore[arg-type]
    [image] = await add_images(session, owner.id, 1)  # type: ignore[arg-type]
    writes = [
        ("POST", f"{API}/articles", {"title": "t", "content": "c"}),
        ("PATCH", f"{API}/articles/{article.id}", {"title": "t"}),
        ("DELETE", f"{API}/articles/{article.id}", None),
        ("PUT", f"{API}/articles/{article.id}/tags", {"tags": ["x"]}),
        ("POST", f"{API}/images", {"filename": "a.png", "alt_text": "a"}),
        ("DELETE", f"{API}/images/{image.id}", None),
        ("PUT", f"{API}/images/{image.id}/tags", {"tags": ["x"]}),
    ]
    for method, url, body in writes:
        response = await client.request(method, url, json=body)
        assert response.status_code == 401, (method, url)


@pytest.mark.parametrize("role", [Role.author, Role.moderator])
async def test_only_the_owner_or_an_admin_changes_an_article_or_image(
    client: AsyncClient,
    login,  # type: ignore[no-untyped-def]
    session: AsyncSession,
    role: Role,
) -> None:
    owner: SignedIn = await login(Role.author)
    stranger: SignedIn = await login(role)
    admin: SignedIn = await login(Role.admin)
    [article] = await add_articles(session, owner.id, 1, tags=["kept"])
    [image] = await add_images(session, owner.id, 1, tags=["kept"])
    refused = [
        ("PATCH", f"{API}/articles/{article.id}", {"title": "mine now"}),
        ("PUT", f"{API}/articles/{article.id}/tags", {"tags": ["x"]}),
        ("DELETE", f"{API}/articles/{article.id}", None),
        ("PUT", f"{API}/images/{image.id}/tags", {"tags": ["x"]}),
        ("DELETE", f"{API}/images/{image.id}", None),
    ]
    for method, url, body in refused:
        response = await client.request(method, url, json=body, headers=stranger.headers)
        assert response.status_code == 403, (method, url, response.text)
    assert await tag_rows(session, "article", article.id) == ["kept"]  # type: ignore[arg-type]
    by_admin = await client.put(f"{API}/images/{image.id}/tags", json={"tags": ["admin"]}, headers=admin.headers)
    assert by_admin.status_code == 200 and by_admin.json()["tags"] == ["admin"]
    assert (await client.delete(f"{API}/articles/{article.id}", headers=admin.headers)).status_code == 204


async def test_unknown_articles_and_images_are_404(client: AsyncClient, login) -> None:  # type: ignore[no-untyped-def]
    author: SignedIn = await login(Role.author)
    missing = 999_999_999
    for method, url, body in [
        ("GET", f"{API}/articles/{missing}", None),
        ("PATCH", f"{API}/articles/{missing}", {"title": "t"}),
        ("DELETE", f"{API}/articles/{missing}", None),
        ("PUT", f"{API}/articles/{missing}/tags", {"tags": []}),
        ("GET", f"{API}/images/{missing}", None),
        ("DELETE", f"{API}/images/{missing}", None),
        ("PUT", f"{API}/images/{missing}/tags", {"tags": []}),
    ]:
        response = await client.request(method, url, json=body, headers=author.headers)
        assert response.status_code == 404, (method, url)


async def test_a_draft_is_seen_by_its_author_and_admins_only(client: AsyncClient, login, session: AsyncSession) -> None:  # type: ignore[no-untyped-def]
    owner: SignedIn = await login(Role.author)
    other: SignedIn = await login(Role.author)
    admin: SignedIn = await login(Role.admin)
    [draft] = await add_articles(session, owner.id, 1, status=ArticleStatus.draft)
    [published] = await add_articles(session, owner.id, 1)
    url = f"{API}/articles/{draft.id}"
    assert (await client.get(url)).status_code == 404
    assert (await client.get(url, headers=other.headers)).status_code == 404
    assert (await client.get(url, headers=owner.headers)).status_code == 200
    assert (await client.get(url, headers=admin.headers)).status_code == 200
    assert (await client.get(f"{API}/articles/{published.id}")).status_code == 200

    def ids(response_json: dict[str, list[dict[str, int]]]) -> set[int]:
        return {item["id"] for item in response_json["items"]}

    params = {"author_id": owner.id}
    assert ids((await client.get(f"{API}/articles", params=params)).json()) == {published.id}
    assert ids((await client.get(f"{API}/articles", params=params, headers=other.headers)).json()) == {published.id}
    assert ids((await client.get(f"{API}/articles", params=params, headers=owner.headers)).json()) == {
        published.id,
        draft.id,
    }
    assert ids((await client.get(f"{API}/articles", params=params, headers=admin.headers)).json()) == {
        published.id,
        draft.id,
    }


async def test_the_author_edits_and_publishes_an_article(client: AsyncClient, login, session: AsyncSession) -> None:  # type: ignore[no-untyped-def]
    owner: SignedIn = await login(Role.author)
    [draft] = await add_articles(session, owner.id, 1, status=ArticleStatus.draft, tags=["t"])
    response = await client.patch(
        f"{API}/articles/{draft.id}", json={"status": "published", "title": "Final"}, headers=owner.headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "published" and body["title"] == "Final" and body["content"] == "..."
    assert body["tags"] == ["t"]
    assert (await client.get(f"{API}/articles/{draft.id}")).status_code == 200
    for bad in ({"status": "archived"}, {"title": None}, {"title": ""}, {"author_id": 1}):
        refused = await client.patch(f"{API}/articles/{draft.id}", json=bad, headers=owner.headers)
        assert refused.status_code == 422, bad


async def test_bad_article_and_image_input_is_422_with_the_field_path(client: AsyncClient, login) -> None:  # type: ignore[no-untyped-def]
    author: SignedIn = await login(Role.author)
    cases = [
        (f"{API}/articles", {"title": "", "content": "c"}, "body.title"),
        (f"{API}/articles", {"title": "t"}, "body.content"),
        (f"{API}/articles", {"title": "t", "content": "c", "status": "secret"}, "body.status"),
        (f"{API}/articles", {"title": "t", "content": "c", "author_id": 1}, "body.author_id"),
        (f"{API}/articles", {"title": "t", "content": "c", "tags": ["  "]}, "body.tags.0"),
        (f"{API}/images", {"filename": "", "alt_text": "a"}, "body.filename"),
        (f"{API}/images", {"filename": "a.png", "alt_text": "a" * 501}, "body.alt_text"),
        (f"{API}/images", {"filename": "a.png", "alt_text": "a", "tags": ["x" * 51]}, "body.tags.0"),
    ]
    for url, body, field in cases:
        response = await client.post(url, json=body, headers=author.headers)
        assert response.status_code == 422, (body, response.text)
        assert field in {error["field"] for error in response.json()["errors"]}, response.json()


async def test_an_author_deletes_their_article_and_image_and_the_tags_go_with_them(
    client: AsyncClient,
    login,  # type: ignore[no-untyped-def]
    session: AsyncSession,
) -> None:
    owner: SignedIn = await login(Role.author)
    [article] = await add_articles(session, owner.id, 1, tags=["shared", "a"])
    [image] = await add_images(session, owner.id, 1, tags=["shared"])
    assert (await client.delete(f"{API}/articles/{article.id}", headers=owner.headers)).status_code == 204
    assert (await client.get(f"{API}/articles/{article.id}")).status_code == 404
    assert await tag_rows(session, "article", article.id) == []  # type: ignore[arg-type]
    remaining = (await client.get(f"{API}/tags/shared")).json()["items"]
    assert [(item["type"], item["id"]) for item in remaining] == [("image", image.id)]
    assert (await client.delete(f"{API}/images/{image.id}", headers=owner.headers)).status_code == 204
    assert await tag_rows(session, "image", image.id) == []  # type: ignore[arg-type]
    assert (await client.get(f"{API}/tags/shared")).json() == {"items": [], "next_cursor": None}


# --- images -------------------------------------------------------------------------------------


async def test_an_author_adds_an_image_and_anyone_reads_it(client: AsyncClient, login) -> None:  # type: ignore[no-untyped-def]
    author: SignedIn = await login(Role.author)
    body = {"filename": "cat.png", "alt_text": "a cat", "tags": ["Cats"]}
    created = await client.post(f"{API}/images", json=body, headers=author.headers)
    assert created.status_code == 201, created.text
    assert created.json()["tags"] == ["cats"] and created.json()["author_id"] == author.id
    read = await client.get(f"{API}/images/{created.json()['id']}")
    assert read.json() == created.json()
    listed = await client.get(f"{API}/images", params={"author_id": author.id})
    assert [item["id"] for item in listed.json()["items"]] == [created.json()["id"]]


# --- replacing tag sets -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["articles", "images"])
async def test_put_tags_replaces_the_whole_set(client: AsyncClient, login, session: AsyncSession, kind: str) -> None:  # type: ignore[no-untyped-def]
    owner: SignedIn = await login(Role.author)
    adder = add_articles if kind == "articles" else add_images
    [item] = await adder(session, owner.id, 1, tags=["old", "kept"])  # type: ignore[operator]
    url = f"{API}/{kind}/{item.id}/tags"
    replaced = await client.put(url, json={"tags": ["Kept", " new ", "NEW"]}, headers=owner.headers)
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["tags"] == ["kept", "new"]
    assert await tag_rows(session, kind[:-1], item.id) == ["kept", "new"]
    cleared = await client.put(url, json={"tags": []}, headers=owner.headers)
    assert cleared.status_code == 200 and cleared.json()["tags"] == []
    assert await tag_rows(session, kind[:-1], item.id) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"tags": ["x" * 51]}, "body.tags.0"),
        ({"tags": ["ok", ""]}, "body.tags.1"),
        ({"tags": ["ok", "nul\u0000here"]}, "body.tags.1"),  # reached the database (422, no errors[])
        ({"tags": [f"t{i}" for i in range(51)]}, "body.tags"),
        ({"tags": "python"}, "body.tags"),
        ({}, "body.tags"),
        ({"tags": [], "extra": 1}, "body.extra"),
    ],
)
async def test_a_bad_tag_set_is_422_and_leaves_the_tags_alone(
    client: AsyncClient,
    login,  # type: ignore[no-untyped-def]
    session: AsyncSession,
    body: dict[str, object],
    field: str,
) -> None:
    owner: SignedIn = await login(Role.author)
    [article] = await add_articles(session, owner.id, 1, tags=["kept"])
    response = await client.put(f"{API}/articles/{article.id}/tags", json=body, headers=owner.headers)
    assert response.status_code == 422
    assert field in {error["field"] for error in response.json()["errors"]}
    assert await tag_rows(session, "article", article.id) == ["kept"]  # type: ignore[arg-type]


async def test_fifty_tags_of_fifty_characters_are_accepted(client: AsyncClient, login, session: AsyncSession) -> None:  # type: ignore[no-untyped-def]
    owner: SignedIn = await login(Role.author)
    [image] = await add_images(session, owner.id, 1)
    names = [f"{i:02d}" + "x" * 48 for i in range(50)]
    response = await client.put(f"{API}/images/{image.id}/tags", json={"tags": names}, headers=owner.headers)
    assert response.status_code == 200 and response.json()["tags"] == names


# --- GET /tags/{name} ---------------------------------------------------------------------------


async def test_a_tag_lists_articles_and_images_each_marked_with_its_type(
    client: AsyncClient,
    login,  # type: ignore[no-untyped-def]
    session: AsyncSession,
) -> None:
    owner: SignedIn = await login(Role.author)
    other: SignedIn = await login(Role.author)
    [article] = await add_articles(session, owner.id, 1, tags=["python"])
    [draft] = await add_articles(session, owner.id, 1, status=ArticleStatus.draft, tags=["python"])
    [image] = await add_images(session, owner.id, 1, tags=["python"])
    await add_articles(session, owner.id, 1, tags=["other"])
    public = (await client.get(f"{API}/tags/Python")).json()  # the name is normalized like stored ones
    assert [(item["type"], item["id"]) for item in public["items"]] == [("article", article.id), ("image", image.id)]
    assert public["items"][0]["title"] == article.title and public["items"][1]["filename"] == image.filename
    for caller, expected in ((other, {article.id}), (owner, {article.id, draft.id})):
        items = (await client.get(f"{API}/tags/python", headers=caller.headers)).json()["items"]
        assert {item["id"] for item in items if item["type"] == "article"} == expected
    assert (await client.get(f"{API}/tags/nothing-has-this")).json() == {"items": [], "next_cursor": None}


async def test_tag_items_page_with_a_cursor(client: AsyncClient, session: AsyncSession) -> None:
    owner = await make_user(session)
    articles = await add_articles(session, owner.id, 3, tags=["paged"])  # type: ignore[arg-type]
    images = await add_images(session, owner.id, 2, tags=["paged"])  # type: ignore[arg-type]
    seen: list[tuple[str, int]] = []
    cursor = None
    for _ in range(3):
        params: dict[str, object] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(f"{API}/tags/paged", params=params)).json()
        seen += [(item["type"], item["id"]) for item in page["items"]]
        cursor = page["next_cursor"]
    assert seen == [("article", a.id) for a in articles] + [("image", i.id) for i in images]
    assert cursor is None
    for bad in ("nonsense", "eyJ0eXBlIjoicG9zdCIsImlkIjoxfQ"):  # not a cursor; {"type":"post","id":1}
        response = await client.get(f"{API}/tags/paged", params={"cursor": bad})
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == "query.cursor"


@pytest.mark.parametrize("kind", ["articles", "images"])
async def test_article_and_image_lists_page_newest_first(client: AsyncClient, session: AsyncSession, kind: str) -> None:
    owner = await make_user(session)
    adder = add_articles if kind == "articles" else add_images
    items = await adder(session, owner.id, 5)  # type: ignore[operator]
    seen: list[int] = []
    cursor = None
    for _ in range(3):
        params: dict[str, object] = {"limit": 2, "author_id": owner.id} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(f"{API}/{kind}", params=params)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
    # Same created_at within one flush is possible: the id breaks the tie, newest (highest) first.
    expected = [row.id for row in sorted(items, key=lambda row: (row.created_at, row.id), reverse=True)]
    assert seen == expected and cursor is None
    for bad in ("nonsense", "eyJhdCI6Im5vdC1hLWRhdGUiLCJpZCI6MX0", "eyJhdCI6IjIwMjUtMDEtMDFUMDA6MDA6MDAiLCJpZCI6MX0"):
        response = await client.get(f"{API}/{kind}", params={"cursor": bad})  # junk; bad date; naive date
        assert response.status_code == 422, bad
    assert (await client.get(f"{API}/{kind}", params={"limit": 101})).status_code == 422


# --- statement counts ---------------------------------------------------------------------------


@pytest.mark.parametrize("signed_in", [False, True])
async def test_the_article_list_takes_the_same_statements_at_two_sizes(
    client: AsyncClient,
    login,  # type: ignore[no-untyped-def]
    session: AsyncSession,
    statements: StatementLog,
    signed_in: bool,
) -> None:
    viewer: SignedIn = await login(Role.author)
    headers = viewer.headers if signed_in else {}
    counts = []
    for size in (3, 30):
        owner = await make_user(session)
        await add_articles(session, owner.id, size, tags=["a", "b"])  # type: ignore[arg-type]
        with statements.record():
            response = await client.get(
                f"{API}/articles", params={"author_id": owner.id, "limit": 100}, headers=headers
            )
        assert len(response.json()["items"]) == size
        assert all(item["tags"] == ["a", "b"] for item in response.json()["items"])
        counts.append(statements.count)
    assert counts[0] == counts[1]


async def test_the_image_list_takes_the_same_statements_at_two_sizes(
    client: AsyncClient, session: AsyncSession, statements: StatementLog
) -> None:
    counts = []
    for size in (3, 30):
        owner = await make_user(session)
        await add_images(session, owner.id, size, tags=["a", "b"])  # type: ignore[arg-type]
        with statements.record():
            response = await client.get(f"{API}/images", params={"author_id": owner.id, "limit": 100})
        assert len(response.json()["items"]) == size
        assert all(item["tags"] == ["a", "b"] for item in response.json()["items"])
        counts.append(statements.count)
    assert counts == [2, 2]  # the page, then the tags of the whole page


async def test_a_tag_listing_takes_one_statement_at_two_sizes(
    client: AsyncClient, session: AsyncSession, statements: StatementLog
) -> None:
    counts = []
    for size in (3, 30):
        owner = await make_user(session)
        tag = unique("counted")
        await add_articles(session, owner.id, size, tags=[tag])  # type: ignore[arg-type]
        await add_images(session, owner.id, size, tags=[tag])  # type: ignore[arg-type]
        with statements.record():
            response = await client.get(f"{API}/tags/{tag}", params={"limit": 100})
        assert len(response.json()["items"]) == 2 * size
        counts.append(statements.count)
    assert counts == [1, 1]


async def test_an_author_edits_an_image_and_keeps_its_tags(client: AsyncClient, login) -> None:  # type: ignore[no-untyped-def]
    author: SignedIn = await login()
    created = await client.post(
        "/api/v1/images", json={"filename": "a.png", "alt_text": "first", "tags": ["x"]}, headers=author.headers
    )
    assert created.status_code == 201, created.text
    image_id = created.json()["id"]
    edited = await client.patch(f"/api/v1/images/{image_id}", json={"alt_text": "second"}, headers=author.headers)
    assert edited.status_code == 200
    assert (
        edited.json()["alt_text"] == "second"
        and edited.json()["filename"] == "a.png"
        and edited.json()["tags"] == ["x"]
    )
    assert (
        await client.patch(f"/api/v1/images/{image_id}", json={"filename": None}, headers=author.headers)
    ).status_code == 422
    assert (await client.get(f"/api/v1/images/{image_id}")).json()["alt_text"] == "second"


async def test_someone_elses_draft_article_is_404_for_every_write(client: AsyncClient, login) -> None:  # type: ignore[no-untyped-def]
    owner: SignedIn = await login()
    stranger: SignedIn = await login()
    draft = await client.post(
        "/api/v1/articles", json={"title": "Secret plans", "content": "..."}, headers=owner.headers
    )
    assert draft.status_code == 201 and draft.json()["status"] == "draft"
    path = f"/api/v1/articles/{draft.json()['id']}"
    for method, url, body in (
        ("PATCH", path, {"title": "Mine now"}),
        ("PUT", f"{path}/tags", {"tags": ["x"]}),
        ("DELETE", path, None),
    ):
        response = await client.request(method, url, json=body, headers=stranger.headers)
        assert response.status_code == 404, (method, response.status_code)
    assert (await client.get(path, headers=owner.headers)).status_code == 200
