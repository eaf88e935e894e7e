"""Bulk hero updates over real processes: submitted to the API, run by the bulk worker,
all or nothing, also when the worker is killed in the middle of one."""

import re
import time

from tests.e2e.conftest import (
    Api,
    Database,
    Stack,
    Users,
    create_heroes,
    job_status,
    submit_bulk_update,
    unique,
    wait_for_job,
    wait_until,
)

JOB_TIMEOUT = 60.0
BULK_HEROES = 10_000
KILLED_HEROES = 100_000  # the job's largest size
# A killed job is retried once its lease lapses (JOB_LEASE_SECONDS, 5 s here), not after its job
# timeout (BULK_JOB_TIMEOUT_SECONDS is 600 here, so arq alone would wait 610 s): within a minute.
RETRY_TIMEOUT = 60.0


def heroes_with_power(db: Database, ids: list[int], power: float) -> int:
    count: int = db.fetchval("SELECT count(*) FROM hero WHERE id = ANY($1::int[]) AND power_level = $2", ids, power)
    return count


def test_a_bulk_update_of_10_000_heroes_completes_and_changes_every_row(api: Api, users: Users, db: Database) -> None:
    prefix = unique("bulk")
    ids = create_heroes(
        api,
        users.admin,
        [
            {"name": f"{prefix} {n}", "secret_identity": "bulk", "age": 30, "power_level": 10}
            for n in range(BULK_HEROES)
        ],
    )

    accepted = submit_bulk_update(api, users.admin, [{"id": hero_id, "power_level": 42.5} for hero_id in ids])
    job = wait_for_job(api, users.admin, accepted["status_url"], timeout=JOB_TIMEOUT)

    assert job["status"] == "complete", job
    assert job["result"] == {"updated": BULK_HEROES, "missing_ids": []}
    assert job["progress"] == {"done": BULK_HEROES, "total": BULK_HEROES}
    assert heroes_with_power(db, ids, 42.5) == BULK_HEROES


def test_a_bulk_update_with_one_bad_row_fails_naming_it_and_changes_nothing(
    api: Api, users: Users, db: Database
) -> None:
    prefix = unique("bad-row")
    adults = [{"name": f"{prefix} {n}", "secret_identity": "adult", "age": 30, "power_level": 10} for n in range(50)]
    young = {"name": f"{prefix} young", "secret_identity": "young", "age": 15, "power_level": 10}
    ids = create_heroes(api, users.admin, [*adults[:25], young, *adults[25:]])
    young_id = ids[25]

    # Valid as input (the item has no age); the stored age makes power 90 break young_hero_power.
    accepted = submit_bulk_update(api, users.admin, [{"id": hero_id, "power_level": 90} for hero_id in ids])
    job = wait_for_job(api, users.admin, accepted["status_url"], timeout=JOB_TIMEOUT)

    assert job["status"] == "failed", job
    assert job["result"] is None
    named = re.search(r"offending hero ids: ([\d, ]+)", job["error"]["message"])
    assert named is not None, job["error"]
    assert [int(hero_id) for hero_id in named.group(1).split(",")] == [young_id]
    assert heroes_with_power(db, ids, 10) == len(ids), "a failed bulk update must change no row"


def seed_heroes(db: Database, prefix: str, count: int) -> list[int]:
    """Many heroes at once, straight into the table (the API would take 100 requests)."""
    rows = db.fetch(
        "INSERT INTO hero (name, secret_identity, age, power_level) "
        "SELECT $1 || ' ' || g, 'seeded', 30, 10 FROM generate_series(1, $2) g RETURNING id",
        prefix,
        count,
    )
    return sorted(row["id"] for row in rows)


def test_a_bulk_update_whose_worker_is_killed_is_never_partly_visible_and_completes_on_a_new_worker(
    api: Api, users: Users, db: Database, running: Stack
) -> None:
    ids = seed_heroes(db, unique("killed"), KILLED_HEROES)
    observed: list[int] = []

    def changed_rows() -> int:
        count = heroes_with_power(db, ids, 77)
        observed.append(count)
        return count

    # Hold the last hero's row: the job's one UPDATE changes every other row, then waits on this
    # lock inside its one transaction. The kill lands there, mid-job, every run.
    blocker = db.second_connection()
    try:
        blocker.execute("BEGIN")
        blocker.execute("SELECT 1 FROM hero WHERE id = $1 FOR UPDATE", ids[-1])

        accepted = submit_bulk_update(api, users.admin, [{"id": hero_id, "power_level": 77} for hero_id in ids])

        def blocked_mid_update() -> dict[str, object] | None:
            job = job_status(api, users.admin, accepted["status_url"])
            assert job["status"] in ("queued", "in_progress"), job
            changed_rows()
            waiting = db.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
                " AND query LIKE '%hero_update_items%UPDATE hero%'"
            )
            return job if job["status"] == "in_progress" and waiting else None

        mid_job = wait_until(blocked_mid_update, timeout=JOB_TIMEOUT, interval=0.05, what="the job's UPDATE to wait")
        assert mid_job["tries"] == 1
        running.bulk_worker.kill9()
        changed_rows()
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()

    # Nothing of the killed try may show, before or after a new worker takes the job over.
    running.bulk_worker.start()
    deadline = time.monotonic() + RETRY_TIMEOUT
    while (job := job_status(api, users.admin, accepted["status_url"]))["status"] not in ("complete", "failed"):
        changed_rows()
        assert time.monotonic() < deadline, f"the killed job was not retried: {job}"
        time.sleep(0.1)

    assert job["status"] == "complete", job
    assert job["tries"] >= 2, job
    assert job["result"] == {"updated": KILLED_HEROES, "missing_ids": []}
    assert changed_rows() == KILLED_HEROES
    partial = sorted({count for count in observed if count not in (0, KILLED_HEROES)})
    assert not partial, f"a partial update was visible: {partial} of {KILLED_HEROES} rows changed"
    assert observed[0] == 0, "the killed try must not have committed anything"
