"""Per-user write limits (WRITE_LIMITS): past its limit, a user's next write of that kind is a 429
problem+json with Retry-After and writes nothing; other users and other kinds are unaffected."""

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy import func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.models.blog import Comment, Post
from shared.models.tagging import Article, Image
from shared.models.users import Role
from shared.settings import get_settings
from tests.api.conftest import SignedIn

Body = Callable[[int], dict[str, Any]]

KINDS: dict[str, tuple[str, Body, type]] = {
    "comments": ("/api/v1/posts/{post_id}/comments", lambda i: {"content": f"comment {i}"}, Comment),
    "articles": ("/api/v1/articles", lambda i: {"title": f"article {i}", "content": "c"}, Article),
    "images": ("/api/v1/images", lambda i: {"filename": f"i{i}.png", "alt_text": "alt"}, Image),
    "posts": ("/api/v1/posts", lambda i: {"title": f"post {i}", "content": "c"}, Post),
}


def per_minute(kind: str) -> int:
    first = get_settings().write_limits[kind].split(";")[0]
    count, _, unit = first.partition("/")
    assert unit == "minute", first
    return int(count)


async def rows(session: AsyncSession, model: type) -> int:
    session.expunge_all()
    return int((await session.exec(select(func.count()).select_from(model))).one())


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_a_user_past_their_write_limit_gets_429_and_writes_nothing(
    client: AsyncClient,
    session: AsyncSession,
    login,
    kind: str,  # type: ignore[no-untyped-def]
) -> None:
    path, body, model = KINDS[kind]
    writer: SignedIn = await login(Role.author)
    post = Post(title="open", content="c", author_id=writer.id, status="published")
    session.add(post)
    await session.flush()
    url = path.format(post_id=post.id)
    limit = per_minute(kind)
    for i in range(limit):
        response = await client.post(url, headers=writer.headers, json=body(i))
        assert response.status_code == 201, response.text
    before = await rows(session, model)
    refused = await client.post(url, headers=writer.headers, json=body(limit))
    assert refused.status_code == 429, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert 1 <= int(refused.headers["retry-after"]) <= 60 and refused.json()["rule"] == "write_limit"
    assert await rows(session, model) == before
    # Someone else may still write.
    other: SignedIn = await login(Role.author)
    assert (await client.post(url, headers=other.headers, json=body(limit + 1))).status_code == 201


async def test_bulk_jobs_are_limited_per_admin(client: AsyncClient, login) -> None:  # type: ignore[no-untyped-def]
    admin: SignedIn = await login(Role.admin)
    limit = per_minute("jobs")
    statuses = [
        (await client.post("/api/v1/jobs/heroes/bulk-delete", headers=admin.headers, json={"ids": [1]})).status_code
        for _ in range(limit + 1)
    ]
    assert statuses == [202] * limit + [429]


async def test_transfers_are_limited_per_admin(app: FastAPI, client: AsyncClient, login) -> None:  # type: ignore[no-untyped-def]
    # The default is per second (50/s, admin automation); a per-minute limit makes the test exact.
    app.state.settings = app.state.settings.model_copy(update={"write_limits": {"transfers": "3/minute"}})
    admin: SignedIn = await login(Role.admin)
    teams = [(await client.post("/api/v1/teams", headers=admin.headers, json={"name": n})).json()["id"] for n in "AB"]
    hero = await client.post(
        "/api/v1/heroes",
        headers=admin.headers,
        json={"name": "mover", "secret_identity": "m", "age": 30, "power_level": 10, "team_id": teams[0]},
    )
    url = f"/api/v1/heroes/{hero.json()['id']}/transfer"
    statuses = [
        (await client.post(url, headers=admin.headers, json={"to_team_id": teams[(i + 1) % 2]})).status_code
        for i in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
