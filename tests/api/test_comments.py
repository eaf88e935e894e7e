"""Comments through the API: writing with its outbox row, public and moderator lists, moderation, deletion."""

from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.auth.callers import Caller
from shared.blog.moderation import ensure_may_moderate
from shared.errors import PermissionDenied
from shared.jobs import outbox
from shared.jobs.queues import Queue
from shared.models.base import now_utc
from shared.models.blog import Comment, ModerationState, PostStatus
from shared.models.jobs import OutboxMessage, OutboxTopic
from shared.models.users import Role
from tests.api.conftest import SignedIn
from tests.api.helpers import aware, make_comment, make_post, walk
from tests.conftest import StatementLog

POSTS = "/api/v1/posts"
COMMENTS = "/api/v1/comments"
MODERATION_FIELDS = {"moderation_state", "moderation_reason", "moderated_at", "moderated_by_id"}


async def comment_count(session: AsyncSession, post_id: int) -> int:
    return (await session.exec(select(func.count()).select_from(Comment).where(col(Comment.post_id) == post_id))).one()


async def moderation_messages(session: AsyncSession) -> list[dict[str, Any]]:
    statement = select(OutboxMessage.payload).where(col(OutboxMessage.topic) == OutboxTopic.comment_moderation)
    return list((await session.exec(statement)).all())


# --- writing ----------------------------------------------------------------------------------


async def test_commenting_creates_a_pending_comment_and_its_moderation_outbox_row(
    app: FastAPI,
    client: AsyncClient,
    session: AsyncSession,
    login,  # type: ignore[no-untyped-def]
) -> None:
    author: SignedIn = await login()
    commenter: SignedIn = await login()
    post = await make_post(session, author)
    response = await client.post(f"{POSTS}/{post.id}/comments", json={"content": "Nice!"}, headers=commenter.headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["moderation_state"] == "pending" and body["moderated_at"] is None
    assert body["author"] == {"id": commenter.id, "username": commenter.user.username}
    assert aware(body["created_at"])
    stored = await session.get(Comment, body["id"])
    assert stored is not None and stored.moderation_state == ModerationState.pending
    assert await moderation_messages(session) == [{"comment_id": body["id"]}]
    # Once the transaction committed, its moderation job was enqueued under the row's job id.
    message_id = (
        await session.exec(select(OutboxMessage.id).where(col(OutboxMessage.topic) == "comment_moderation"))
    ).one()
    queued = await app.state.job_pool.zrange(Queue.short, 0, -1)
    assert outbox.job_id_for(message_id).encode() in queued  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"content": ""}, "body.content"),
        ({"content": "x" * 10_001}, "body.content"),
        ({"content": "hi", "state": "approved"}, "body.state"),
        ({}, "body.content"),
    ],
)
async def test_a_failed_comment_writes_neither_the_comment_nor_its_outbox_row(
    client: AsyncClient,
    session: AsyncSession,
    login,  # type: ignore[no-untyped-def]
    data: dict[str, Any],
    field: str,
) -> None:
    caller: SignedIn = await login()
    post = await make_post(session, caller)
    response = await client.post(f"{POSTS}/{post.id}/comments", json=data, headers=caller.headers)
    assert response.status_code == 422
    assert field in {e["field"] for e in response.json()["errors"]}
    assert await comment_count(session, post.id) == 0  # type: ignore[arg-type]
    assert await moderation_messages(session) == []


async def test_commenting_on_a_hidden_or_unknown_post_is_404_and_needs_a_token(
    client: AsyncClient,
    session: AsyncSession,
    login,  # type: ignore[no-untyped-def]
) -> None:
    author: SignedIn = await login()
    other: SignedIn = await login()
    draft = await make_post(session, author, status=PostStatus.draft)
    published = await make_post(session, author)
    data = {"content": "hello"}
    assert (await client.post(f"{POSTS}/{published.id}/comments", json=data)).status_code == 401
    assert (await client.post(f"{POSTS}/{draft.id}/comments", json=data, headers=other.headers)).status_code == 404
    assert (await client.post(f"{POSTS}/999999/comments", json=data, headers=other.headers)).status_code == 404
    assert await moderation_messages(session) == []
    # The author may comment on their own draft.
    own = await client.post(f"{POSTS}/{draft.id}/comments", json=data, headers=author.headers)
    assert own.status_code == 201


# --- reading ----------------------------------------------------------------------------------


async def _post_with_one_comment_per_state(session: AsyncSession, author: SignedIn) -> tuple[int, dict[str, int]]:
    post = await make_post(session, author)
    ids = {}
    for state in ModerationState:
        reason = "spam" if state == ModerationState.rejected else None
        ids[state.value] = (await make_comment(session, post, author, state, moderation_reason=reason)).id
    return post.id, ids  # type: ignore[return-value]


async def test_the_public_sees_approved_comments_only_without_moderation_details(
    client: AsyncClient,
    session: AsyncSession,
    login,  # type: ignore[no-untyped-def]
) -> None:
    author: SignedIn = await login()
    post_id, ids = await _post_with_one_comment_per_state(session, author)
    for headers in ({}, author.headers):
        response = await client.get(f"{POSTS}/{post_id}/comments", headers=headers)
        assert response.status_code == 200
        [item] = response.json()["items"]
        assert item["id"] == ids["approved"]
        assert item["author"] == {"id": author.id, "username": author.user.username}
        assert not MODERATION_FIELDS & item.keys()


@pytest.mark.parametrize("role", [Role.moderator, Role.admin])
async def test_moderators_see_every_comment_with_state_reason_and_time(
    client: AsyncClient,
    session: AsyncSession,
    login,  # type: ignore[no-untyped-def]
    role: Role,
) -> None:
    author: SignedIn = await login()
    moderator: SignedIn = await login(role)
    post_id, ids = await _post_with_one_comment_per_state(session, author)
    response = await client.get(f"{POSTS}/{post_id}/comments", headers=moderator.headers)
    assert response.status_code == 200
    items = {item["moderation_state"]: item for item in response.json()["items"]}
    assert {state: item["id"] for state, item in items.items()} == ids
    assert items["rejected"]["moderation_reason"] == "spam"
    assert aware(items["rejected"]["moderated_at"])
    assert items["pending"]["moderated_at"] is None


async def test_comments_of_a_hidden_or_unknown_post_are_404(
    client: AsyncClient,
    session: AsyncSession,
    login,  # type: ignore[no-untyped-def]
) -> None:
    author: SignedIn = await login()
    draft = await make_post(session, author, status=PostStatus.draft)
    await make_comment(session, draft, author, ModerationState.approved)
    assert (await client.get(f"{POSTS}/{draft.id}/comments")).status_code == 404
    assert (await client.get(f"{POSTS}/999999/comments")).status_code == 404
    assert (await client.get(f"{POSTS}/{draft.id}/comments", headers=author.headers)).status_code == 200


async def test_walking_comment_pages_serves_each_once_oldest_first(
    client: AsyncClient,
    session: AsyncSession,
    login,  # type: ignore[no-untyped-def]
) -> None:
    author: SignedIn = await login()
    moderator: SignedIn = await login(Role.moderator)
    post = await make_post(session, author)
    start = now_utc() - timedelta(hours=1)
    approved = [
        await make_comment(session, post, author, ModerationState.approved, created_at=start + timedelta(minutes=i % 3))
        for i in range(7)
    ]
    pending = [await make_comment(session, post, author, created_at=start) for _ in range(2)]
    url = f"{POSTS}/{post.id}/comments"

    def in_order(comments: list[Comment]) -> list[int]:
        return [c.id for c in sorted(comments, key=lambda c: (c.created_at, c.id))]  # type: ignore[misc]

    assert await walk(client, url, limit=2) == in_order(approved)
    assert await walk(client, url, moderator.headers, limit=4) == in_order(approved + pending)
    bad = await client.get(url, params={"cursor": "garbage", "limit": 2})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.cursor"
    assert (await client.get(url, params={"limit": 101})).status_code == 422


async def _statements_to_list_comments(
    client: AsyncClient,
    session: AsyncSession,
    statements: StatementLog,
    viewer: SignedIn,
    writers: list[SignedIn],
    count: int,
) -> int:
    post = await make_post(session, writers[0])
    for i in range(count):
        state = ModerationState.approved if i % 2 else ModerationState.pending
        await make_comment(session, post, writers[i % len(writers)], state)
    with statements.record():
        response = await client.get(f"{POSTS}/{post.id}/comments", params={"limit": 100}, headers=viewer.headers)
    assert response.status_code == 200
    # Moderators see every comment; anyone else only the approved half.
    expected = count if viewer.user.role == Role.moderator else count // 2
    assert len(response.json()["items"]) == expected
    return statements.count


@pytest.mark.parametrize("role", [Role.author, Role.moderator])
async def test_listing_comments_takes_the_same_statements_for_3_and_30_comments(
    client: AsyncClient,
    session: AsyncSession,
    statements: StatementLog,
    login,  # type: ignore[no-untyped-def]
    role: Role,
) -> None:
    viewer: SignedIn = await login(role)
    writers = [await login() for _ in range(3)]
    small = await _statements_to_list_comments(client, session, statements, viewer, writers, 3)
    large = await _statements_to_list_comments(client, session, statements, viewer, writers, 30)
    assert small == large


# --- moderating -------------------------------------------------------------------------------


async def test_a_moderator_approves_a_comment_and_it_becomes_public(
    client: AsyncClient,
    session: AsyncSession,
    login,  # type: ignore[no-untyped-def]
) -> None:
    author: SignedIn = await login()
    moderator: SignedIn = await login(Role.moderator)
    post = await make_post(session, author)
    comment = await make_comment(session, post, author)
    before = now_utc()
    response = await client.patch(
        f"{COMMENTS}/{comment.id}/moderation", json={"state": "approved"}, headers=moderator.headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["moderation_state"] == "approved" and body["moderation_reason"] is None
    assert body["moderated_by_id"] == moderator.id
    assert aware(body["moderated_at"]) >= before
    assert await walk(client, f"{POSTS}/{post.id}/comments") == [comment.id]
    assert (await client.get(f"{POSTS}/{post.id}")).json()["approved_comment_count"] == 1


async def test_an_admin_rejects_a_comment_with_a_reason(
    client: AsyncClient,
    session: AsyncSession,
    login,  # type: ignore[no-untyped-def]
) -> None:
    author: SignedIn = await login()
    admin: SignedIn = await login(Role.admin)
    post = await make_post(session, author)
    comment = await make_comment(session, post, author, ModerationState.approved)
    response = await client.patch(
        f"{COMMENTS}/{comment.id}/moderation", json={"state": "rejected", "reason": "off topic"}, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["moderation_state"] == "rejected"
    assert response.json()["moderation_reason"] == "off topic"
    assert response.json()["moderated_by_id"] == admin.id
    assert await walk(client, f"{POSTS}/{post.id}/comments") == []


@pytest.mark.parametrize(
    ("decision", "field"),
    [
        ({"state": "rejected"}, "body.reason"),
        ({"state": "rejected", "reason": "   "}, "body.reason"),
        ({"state": "pending"}, "body.state"),
        ({"state": "maybe"}, "body.state"),
        ({"state": "approved", "note": "x"}, "body.note"),
        ({"state": "rejected", "reason": "x" * 501}, "body.reason"),
    ],
)
async def test_a_bad_moderation_decision_is_422_and_changes_nothing(
    client: AsyncClient,
    session: AsyncSession,
    login,  # type: ignore[no-untyped-def]
    decision: dict[str, Any],
    field: str,
) -> None:
    author: SignedIn = await login()
    moderator: SignedIn = await login(Role.moderator)
    post = await make_post(session, author)
    comment = await make_comment(session, post, author)
    response = await client.patch(f"{COMMENTS}/{comment.id}/moderation", json=decision, headers=moderator.headers)
    assert response.status_code == 422
    assert field in {e["field"] for e in response.json()["errors"]}
    listed = await client.get(f"{POSTS}/{post.id}/comments", headers=moderator.headers)
    assert listed.json()["items"][0]["moderation_state"] == "pending"


async def test_only_moderators_and_admins_moderate(
    client: AsyncClient,
    session: AsyncSession,
    login,  # type: ignore[no-untyped-def]
) -> None:
    author: SignedIn = await login()
    moderator: SignedIn = await login(Role.moderator)
    post = await make_post(session, author)
    comment = await make_comment(session, post, author)
    url = f"{COMMENTS}/{comment.id}/moderation"
    decision = {"state": "approved"}
    assert (await client.patch(url, json=decision)).status_code == 401
    assert (await client.patch(url, json=decision, headers=author.headers)).status_code == 403
    unknown = await client.patch(f"{COMMENTS}/999999/moderation", json=decision, headers=moderator.headers)
    assert unknown.status_code == 404


# Nobody decides their own comment, admins included (shared/moderation/service.py::ensure_may_moderate):
# moderation is a check by someone other than the author. Their comment is still decided by the
# automatic rules (the worker) or another moderator; they may still edit it (back to pending) or delete it.
@pytest.mark.parametrize("role", [Role.moderator, Role.admin])
@pytest.mark.parametrize("decision", [{"state": "approved"}, {"state": "rejected", "reason": "mine"}])
async def test_nobody_moderates_their_own_comment_403_and_nothing_changes(
    client: AsyncClient,
    session: AsyncSession,
    login,  # type: ignore[no-untyped-def]
    role: Role,
    decision: dict[str, Any],
) -> None:
    author: SignedIn = await login()
    moderator: SignedIn = await login(role)
    post = await make_post(session, author)
    own = await make_comment(session, post, moderator, content="my own words")
    response = await client.patch(f"{COMMENTS}/{own.id}/moderation", json=decision, headers=moderator.headers)
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 403 and "their own comment" in response.json()["detail"]
    session.expunge_all()
    stored = await session.get(Comment, own.id)
    assert stored is not None
    assert (stored.moderation_state, stored.moderated_at, stored.moderated_by_id) == ("pending", None, None)


async def test_a_moderator_still_decides_everyone_elses_comments_and_the_author_cannot(
    client: AsyncClient,
    session: AsyncSession,
    login,  # type: ignore[no-untyped-def]
) -> None:
    author: SignedIn = await login()
    moderator: SignedIn = await login(Role.moderator)
    admin: SignedIn = await login(Role.admin)
    post = await make_post(session, author)
    comment = await make_comment(session, post, author)
    url = f"{COMMENTS}/{comment.id}/moderation"
    assert (await client.patch(url, json={"state": "approved"})).status_code == 401
    assert (await client.patch(url, json={"state": "approved"}, headers=author.headers)).status_code == 403
    for caller in (moderator, admin):
        response = await client.patch(url, json={"state": "approved"}, headers=caller.headers)
        assert response.status_code == 200 and response.json()["moderated_by_id"] == caller.id


@pytest.mark.parametrize("role", [Role.moderator, Role.admin])
def test_the_own_comment_rule_refuses_the_author_whatever_their_role(role: Role) -> None:
    moderator = Caller(id=7, username="m", role=role)
    with pytest.raises(PermissionDenied, match="their own comment"):
        ensure_may_moderate(moderator, comment_author_id=7)
    ensure_may_moderate(moderator, comment_author_id=8)  # anyone else's: allowed


# --- deleting ---------------------------------------------------------------------------------


async def test_authors_delete_their_own_comments_admins_any_and_others_none(
    client: AsyncClient,
    session: AsyncSession,
    login,  # type: ignore[no-untyped-def]
) -> None:
    author: SignedIn = await login()
    other: SignedIn = await login()
    moderator: SignedIn = await login(Role.moderator)
    admin: SignedIn = await login(Role.admin)
    post = await make_post(session, author)
    own = await make_comment(session, post, other, ModerationState.approved)
    second = await make_comment(session, post, other)
    url = f"{COMMENTS}/{own.id}"
    assert (await client.delete(url)).status_code == 401
    # Neither the post's author nor a moderator owns the comment.
    assert (await client.delete(url, headers=author.headers)).status_code == 403
    assert (await client.delete(url, headers=moderator.headers)).status_code == 403
    assert (await client.delete(url, headers=other.headers)).status_code == 204
    assert (await client.delete(url, headers=other.headers)).status_code == 404
    assert (await client.delete(f"{COMMENTS}/{second.id}", headers=admin.headers)).status_code == 204
    assert await comment_count(session, post.id) == 0  # type: ignore[arg-type]


async def test_out_of_range_ids_and_nul_characters_in_comments_are_422_not_500(
    client: AsyncClient,
    session: AsyncSession,
    login,  # type: ignore[no-untyped-def]
) -> None:
    moderator: SignedIn = await login(Role.moderator)
    post = await make_post(session, moderator)
    nul = await client.post(f"{POSTS}/{post.id}/comments", json={"content": "a\x00"}, headers=moderator.headers)
    big_post = await client.get(f"{POSTS}/{2**31}/comments")
    big_comment = await client.patch(
        f"{COMMENTS}/{2**31}/moderation", json={"state": "approved"}, headers=moderator.headers
    )
    nul_reason = await client.patch(
        f"{COMMENTS}/1/moderation", json={"state": "rejected", "reason": "\x00"}, headers=moderator.headers
    )
    for response, field in (
        (nul, "body.content"),
        (big_post, "path.post_id"),
        (big_comment, "path.comment_id"),
        (nul_reason, "body.reason"),
    ):
        assert response.status_code == 422, response.text
        assert field in {e["field"] for e in response.json()["errors"]}


async def test_an_author_edits_a_comment_and_it_goes_back_to_moderation(
    app: FastAPI,
    client: AsyncClient,
    session: AsyncSession,
    login,  # type: ignore[no-untyped-def]
) -> None:
    writer: SignedIn = await login()
    post = await make_post(session, writer)
    comment = await make_comment(session, post, writer, ModerationState.approved)
    edited = await client.patch(f"{COMMENTS}/{comment.id}", json={"content": "Better words"}, headers=writer.headers)
    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert body["content"] == "Better words" and body["moderation_state"] == "pending"
    assert body["moderated_at"] is None and body["moderation_reason"] is None
    assert await moderation_messages(session) == [{"comment_id": comment.id}]
    queued = await app.state.job_pool.zrange(Queue.short, 0, -1)
    assert len(queued) == 1
    unchanged = await client.patch(f"{COMMENTS}/{comment.id}", json={"content": "Better words"}, headers=writer.headers)
    assert unchanged.status_code == 200 and len(await moderation_messages(session)) == 1
    empty = await client.patch(f"{COMMENTS}/{comment.id}", json={"content": ""}, headers=writer.headers)
    assert empty.status_code == 422


async def test_comments_others_may_not_see_are_404_not_403(
    client: AsyncClient,
    session: AsyncSession,
    login,  # type: ignore[no-untyped-def]
) -> None:
    writer: SignedIn = await login()
    stranger: SignedIn = await login()
    moderator: SignedIn = await login(Role.moderator)
    public_post = await make_post(session, writer)
    pending = await make_comment(session, public_post, writer)
    draft = await make_post(session, writer, status=PostStatus.draft)
    on_draft = await make_comment(session, draft, writer, ModerationState.approved)
    for method, json in (("PATCH", {"content": "x"}), ("DELETE", None)):
        response = await client.request(method, f"{COMMENTS}/{pending.id}", json=json, headers=stranger.headers)
        assert response.status_code == 404, (method, response.text)
    decision = {"state": "approved"}
    hidden = await client.patch(f"{COMMENTS}/{on_draft.id}/moderation", json=decision, headers=moderator.headers)
    assert hidden.status_code == 404
    visible = await client.patch(f"{COMMENTS}/{pending.id}/moderation", json=decision, headers=moderator.headers)
    assert visible.status_code == 200
