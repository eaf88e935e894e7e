"""LOG_LEVEL, and what each level shows, in the processes as `make run` starts them.

At INFO (the default) a worker prints the work it did (a sweep that re-sent something) and not the
routine (cron passes that found nothing, arq's health line); DEBUG shows the routine too. The API
reads HOST, PORT and LOG_LEVEL from a `.env` file in its working directory, and at DEBUG prints the
health probes' access lines that INFO leaves out.
"""

import subprocess
import time
from pathlib import Path

import httpx

from services.worker.main import SWEEP_EVERY_SECONDS
from shared.jobs.queues import Queue
from tests.e2e.conftest import (
    ROOT,
    Database,
    Service,
    Stack,
    api_ready,
    drop_database,
    e2e_database_url,
    executable,
    redis_key_exists,
    wait_until,
)
from tests.support.network import free_port

SWEEP_LINE = "outbox sweep: enqueued 1 of 1 waiting row(s) again"
CRON_LINE = "→ cron:sweep_outbox()"  # arq's start line of a cron run


def worker(stack: Stack, env: dict[str, str], log: Path) -> Service:
    redis_url = env["REDIS_URL"]
    return Service(
        "short-worker",
        [executable("guildhall"), "worker", "--queue", "short"],
        env,
        log,
        ready=lambda _: redis_key_exists(redis_url, f"{Queue.short}:health-check"),
    )


def test_a_worker_logs_its_work_at_info_and_its_routine_only_at_debug(stack: Stack, tmp_path: Path) -> None:
    database = e2e_database_url().set(database=f"{e2e_database_url().database}_logs")
    drop_database(database)
    env = {
        **stack.env,
        "DATABASE_URL": database.render_as_string(hide_password=False),
        "REDIS_URL": stack.redis_url.replace("/0", "/6"),
        "OUTBOX_SWEEP_AFTER_SECONDS": "1",
    }
    env.pop("LOG_LEVEL", None)
    migrated = subprocess.run([executable("guildhall"), "migrate"], env=env, cwd=ROOT, capture_output=True, text=True)
    assert migrated.returncode == 0, migrated.stderr
    db = Database(database)
    try:
        # A comment's moderation left waiting (its enqueue lost): the sweeper's to re-send.
        db.execute(
            "INSERT INTO outbox (topic, payload, created_at)"
            " VALUES ('comment_moderation', '{\"comment_id\": 999999}', now() - interval '1 hour')"
        )
        info = worker(stack, env, tmp_path / "info.log")
        info.start()
        try:
            wait_until(lambda: SWEEP_LINE in info.log.read_text(), timeout=30, what="the sweep's INFO line")
            wait_until(
                lambda: db.fetchval("SELECT count(*) FROM outbox WHERE processed_at IS NULL") == 0,
                timeout=30,
                what="the row to be processed",
            )
            time.sleep(2 * SWEEP_EVERY_SECONDS + 1)  # two more cron passes, with nothing to do
        finally:
            info.stop()
        text = info.log.read_text()
        assert CRON_LINE not in text and "recording health" not in text, text

        debug = worker(stack, env | {"LOG_LEVEL": "DEBUG"}, tmp_path / "debug.log")
        debug.start()
        try:
            wait_until(lambda: CRON_LINE in debug.log.read_text(), timeout=30, what="a cron line at DEBUG")
        finally:
            debug.stop()
    finally:
        db.close()
        drop_database(database)


def test_the_api_reads_port_and_log_level_from_dot_env(stack: Stack, tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / ".env").write_text(f"PORT={port}\nLOG_LEVEL=DEBUG\nWEB_CONCURRENCY=1\n")
    env = {k: v for k, v in stack.env.items() if k not in ("PORT", "HOST", "LOG_LEVEL", "WEB_CONCURRENCY")}
    api = Service("api", [executable("guildhall"), "api"], env, tmp_path / "api.log", ready=lambda _: True)
    with api.log.open("ab") as out:
        api.process = subprocess.Popen(
            api.argv, env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: api_ready(base), timeout=60, what=f"the API on the .env's port {port}")
        assert httpx.get(f"{base}/healthz").status_code == 200
        # At DEBUG the probe's access line is printed (INFO leaves it out: tests/ops/test_quiet_probes.py).
        wait_until(lambda: '"GET /healthz HTTP/1.1" 200' in api.log.read_text(), timeout=10, what="the access line")
        assert f"guildhall api: http://127.0.0.1:{port} with 1 process(es)" in api.log.read_text()
    finally:
        api.stop()
