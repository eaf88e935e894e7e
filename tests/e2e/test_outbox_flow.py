"""Outbox work over real processes: transfer audits and comment moderation, written by the short
worker after the API's commit, also when Redis was down at that commit."""

from typing import Any

from tests.e2e.conftest import Api, Stack, Users, create_team, unique, wait_until

AUDIT_TIMEOUT = 20.0
# After Redis returns: the sweeper runs every 5 s and takes rows older than 2 s.
RECOVERY_TIMEOUT = 30.0
OUTAGE_TRANSFERS = 10


def create_hero(api: Api, users: Users, team_id: int | None) -> int:
    hero = {"name": unique("hero"), "secret_identity": "someone", "age": 30, "power_level": 20, "team_id": team_id}
    response = api.client.post("/api/v1/heroes", json=hero, headers=users.admin)
    assert response.status_code == 201, response.text
    hero_id: int = response.json()["id"]
    return hero_id


def transfer_logs(api: Api, hero_id: int, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = api.client.get(f"/api/v1/heroes/{hero_id}/transfers", headers=headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_a_committed_transfer_gets_its_transfer_log_from_the_worker(api: Api, users: Users) -> None:
    from_team, to_team = create_team(api, users.admin, "from"), create_team(api, users.admin, "to")
    hero_id = create_hero(api, users, from_team)

    response = api.client.post(f"/api/v1/heroes/{hero_id}/transfer", json={"to_team_id": to_team}, headers=users.admin)
    assert response.status_code == 200, response.text

    logs = wait_until(lambda: transfer_logs(api, hero_id, users.admin), timeout=AUDIT_TIMEOUT, what="the TransferLog")
    assert len(logs) == 1
    assert logs[0]["hero_id"] == hero_id
    assert (logs[0]["from_team_id"], logs[0]["to_team_id"]) == (from_team, to_team)
    assert logs[0]["requested_by_id"] == users.admin_id


def test_a_new_comment_is_moderated_by_the_worker_approved_or_rejected_with_a_reason(api: Api, users: Users) -> None:
    post = api.client.post(
        "/api/v1/posts",
        json={"title": unique("moderated"), "content": "a post to comment on", "status": "published"},
        headers=users.author,
    )
    assert post.status_code == 201, post.text
    post_id = post.json()["id"]
    nice = api.client.post(
        f"/api/v1/posts/{post_id}/comments",
        json={"content": f"What a thoughtful post ({unique('n')})"},
        headers=users.author,
    )
    spam = api.client.post(f"/api/v1/posts/{post_id}/comments", json={"content": "BUY SPAM NOW"}, headers=users.author)
    assert nice.status_code == spam.status_code == 201, (nice.text, spam.text)
    assert nice.json()["moderation_state"] == spam.json()["moderation_state"] == "pending"

    def moderated() -> dict[int, dict[str, Any]] | None:
        response = api.client.get(f"/api/v1/posts/{post_id}/comments", headers=users.admin)
        assert response.status_code == 200, response.text
        comments = {comment["id"]: comment for comment in response.json()["items"]}
        return comments if all(c["moderation_state"] != "pending" for c in comments.values()) else None

    comments = wait_until(moderated, timeout=AUDIT_TIMEOUT, what="both comments to be moderated")
    approved, rejected = comments[nice.json()["id"]], comments[spam.json()["id"]]
    assert approved["moderation_state"] == "approved"
    assert approved["moderation_reason"] is None
    assert rejected["moderation_state"] == "rejected"
    assert rejected["moderation_reason"], "a rejection must say why"
    # The public (the author here) sees only the approved one.
    public = api.client.get(f"/api/v1/posts/{post_id}/comments")
    assert [comment["id"] for comment in public.json()["items"]] == [nice.json()["id"]]


def test_transfers_committed_while_redis_is_down_succeed_and_are_all_audited_once_it_returns(
    api: Api, users: Users, running: Stack
) -> None:
    teams = [create_team(api, users.admin, "outage-a"), create_team(api, users.admin, "outage-b")]
    heroes = [create_hero(api, users, teams[0]) for _ in range(OUTAGE_TRANSFERS)]

    running.redis_server.stop()
    transfers = [
        api.client.post(f"/api/v1/heroes/{hero_id}/transfer", json={"to_team_id": teams[1]}, headers=users.admin)
        for hero_id in heroes
    ]
    # While Redis is down the transfers commit; their jobs could not be enqueued.
    assert [response.status_code for response in transfers] == [200] * OUTAGE_TRANSFERS, [
        response.text for response in transfers
    ]
    assert all(transfer_logs(api, hero_id, users.admin) == [] for hero_id in heroes)
    running.redis_server.start()  # same port, empty: nothing of the lost enqueues survived

    def all_audited() -> bool:
        return all(len(transfer_logs(api, hero_id, users.admin)) == 1 for hero_id in heroes)

    try:
        wait_until(all_audited, timeout=RECOVERY_TIMEOUT, interval=0.5, what="every TransferLog after the outage")
    except AssertionError as error:
        workers = f"short worker {running.short_worker.state()}, bulk worker {running.bulk_worker.state()}"
        raise AssertionError(f"{error} ({workers})") from None
    for hero_id in heroes:
        [log] = transfer_logs(api, hero_id, users.admin)
        assert (log["from_team_id"], log["to_team_id"]) == (teams[0], teams[1])
    assert api.server_errors == [], "no request may fail with a 5xx because Redis was down"
