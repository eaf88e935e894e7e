"""Helpers the API tests share (builders, a page walker, a clock): imported from here, never from
another test module."""

from datetime import datetime
from typing import Any

from httpx import AsyncClient
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import flush
from shared.models.base import now_utc
from shared.models.blog import Comment, ModerationState, Post, PostStatus
from shared.models.users import User
from tests.api.conftest import SignedIn
from tests.shared.factories import unique


class FakeClock:
    """A clock that moves only when the test moves it (`clock.now += 5`)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- builders (they only add and flush: the test's transaction is rolled back) ----------------


async def make_post(session: AsyncSession, author: User | SignedIn, **fields: Any) -> Post:
    author_id = author.id
    defaults: dict[str, Any] = {"title": unique("title"), "content": "body", "status": PostStatus.published}
    post = Post(author_id=author_id, **(defaults | fields))  # type: ignore[arg-type]
    session.add(post)
    await flush(session)
    return post


async def make_posts(session: AsyncSession, author: User | SignedIn, count: int, **fields: Any) -> list[Post]:
    """`count` posts in one flush."""
    posts = [
        Post(author_id=author.id, title=unique("title"), content="body", **({"status": "published"} | fields))  # type: ignore[arg-type]
        for _ in range(count)
    ]
    session.add_all(posts)
    await flush(session)
    return posts


async def make_comment(
    session: AsyncSession,
    post: Post,
    author: User | SignedIn,
    state: ModerationState = ModerationState.pending,
    **fields: Any,
) -> Comment:
    decided = None if state == ModerationState.pending else now_utc()
    comment = Comment(
        content=fields.pop("content", "a comment"),
        post_id=post.id,  # type: ignore[arg-type]
        author_id=author.id,  # type: ignore[arg-type]
        moderation_state=state,
        moderated_at=decided,
        **fields,
    )
    session.add(comment)
    await flush(session)
    return comment


def aware(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, value
    return parsed


async def walk(client: AsyncClient, url: str, headers: dict[str, str] | None = None, **params: Any) -> list[int]:
    """Every id a paginated list serves, following next_cursor to the end."""
    ids: list[int] = []
    cursor = None
    for _ in range(100):
        query = params | ({"cursor": cursor} if cursor else {})
        response = await client.get(url, params=query, headers=headers or {})
        assert response.status_code == 200, response.text
        body = response.json()
        ids += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return ids
    raise AssertionError("the pages never ended")
