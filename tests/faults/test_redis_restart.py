"""Redis restarted EMPTY while work it carried was only in Redis: an accepted bulk job's trigger
and the audit jobs of committed transfers, on a PostgreSQL cluster and a redis-server of this
test's own, with the real API and both workers as processes.

What must hold: nothing is lost. The bulk job (a 202 is a promise) completes once, from its
durable record; every committed transfer gets exactly one TransferLog. The sweepers find both in
PostgreSQL and send their triggers again; no one has to do anything.
"""

import os
import time
from pathlib import Path

import httpx
import pytest
import redis

from tests.e2e.conftest import PASSWORD, PROCESS_ENV
from tests.faults.conftest import PostgresServer, RedisServer, api_service, prepare_database, worker_service
from tests.support.postgres import count

HEROES = 40
TRANSFERS = 12
# Outcome bound, not a speed assertion: the sweepers run every 5 s and act on work older than
# OUTBOX_SWEEP_AFTER_SECONDS (2 s here); a minute covers a loaded CI machine many times over.
RECOVERY_SECONDS = 90


@pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")
def test_redis_restarted_empty_loses_neither_an_accepted_bulk_job_nor_a_committed_transfers_audit(
    postgres_server: PostgresServer, redis_server: RedisServer, tmp_path: Path
) -> None:
    database_url = postgres_server.url("guildhall")
    env = {**os.environ, **PROCESS_ENV, "DATABASE_URL": database_url, "REDIS_URL": redis_server.url}
    prepare_database(env, "restart-admin")
    api, base_url = api_service(env, tmp_path)
    workers = [worker_service(env, tmp_path, queue, redis_server.url) for queue in ("short", "bulk")]
    api.start()
    try:
        with httpx.Client(base_url=base_url, timeout=30) as client:
            token = client.post("/api/v1/auth/token", data={"username": "restart-admin", "password": PASSWORD})
            client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
            teams = [client.post("/api/v1/teams", json={"name": name}).json()["id"] for name in ("Home", "Away")]
            heroes = [
                {"name": f"hero {i}", "secret_identity": f"s{i}", "age": 30, "power_level": 50, "team_id": teams[0]}
                for i in range(HEROES)
            ]
            created = client.post("/api/v1/heroes/batch", json={"heroes": heroes})
            assert created.status_code == 201, created.text
            ids = created.json()["ids"]

            # No worker runs yet: the audits' jobs and the bulk job's trigger exist only in Redis.
            for hero in ids[:TRANSFERS]:
                moved = client.post(f"/api/v1/heroes/{hero}/transfer", json={"to_team_id": teams[1]})
                assert moved.status_code == 200, moved.text
            accepted = client.post(
                "/api/v1/jobs/heroes/bulk-update", json={"items": [{"id": hero, "power_level": 77} for hero in ids]}
            )
            assert accepted.status_code == 202, accepted.text
            status_url = accepted.json()["status_url"]
            waiting = redis.Redis.from_url(redis_server.url)
            try:
                assert waiting.zcard("guildhall:bulk") == 1 and waiting.zcard("guildhall:short") >= 1
            finally:
                waiting.close()

            redis_server.stop()
            redis_server.start()  # no persistence: it comes back empty
            empty = redis.Redis.from_url(redis_server.url)
            try:
                assert empty.dbsize() == 0
            finally:
                empty.close()

            for worker in workers:
                worker.start()
            deadline = time.monotonic() + RECOVERY_SECONDS
            while True:
                state = client.get(status_url).json()
                audits_waiting = count(database_url, "SELECT count(*) FROM outbox WHERE processed_at IS NULL")
                if state["status"] == "complete" and audits_waiting == 0:
                    break
                assert state["status"] in ("queued", "in_progress"), state
                assert time.monotonic() < deadline, f"not recovered: job {state}, {audits_waiting} audits waiting"
                time.sleep(0.5)

        assert state["result"] == {"updated": HEROES, "missing_ids": []} and state["tries"] == 1
        assert count(database_url, "SELECT count(*) FROM hero WHERE power_level = 77") == HEROES
        assert count(database_url, "SELECT count(*) FROM transfer_log") == TRANSFERS
        duplicates = "SELECT count(*) FROM (SELECT 1 FROM transfer_log GROUP BY hero_id HAVING count(*) > 1) d"
        assert count(database_url, duplicates) == 0
        assert api.alive() and all(worker.alive() for worker in workers)
    finally:
        for worker in workers:
            worker.stop()
        api.stop()
