"""`guildhall queue`: the ops summary as a terminal table or JSON, run as a real process."""

import json
import os
import subprocess
import sys

from arq import ArqRedis
from sqlalchemy.engine import URL

from shared.jobs.queues import Queue
from tests.conftest import redis_url_for_tests
from tests.support.queues import enqueue


def run_queue(database_url: URL, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {
        "DATABASE_URL": database_url.render_as_string(hide_password=False),
        "REDIS_URL": redis_url_for_tests(),
    }
    return subprocess.run(
        [sys.executable, "-m", "guildhall.cli", "queue", *args], env=env, capture_output=True, text=True, timeout=60
    )


async def test_guildhall_queue_prints_the_summary_as_tables_and_as_json(database_url: URL, job_pool: ArqRedis) -> None:
    await enqueue(job_pool, "ops_ok", 1)
    await enqueue(job_pool, "ops_ok", 2, _defer_by=600)

    table = run_queue(database_url)
    assert table.returncode == 0, table.stderr
    assert "ready 1, deferred 1, running 0" in table.stdout
    assert "bulk jobs accepted and unfinished: 0 queued, 0 running" in table.stdout
    short_row = next(line for line in table.stdout.splitlines() if line.startswith(Queue.short))
    assert short_row.split()[1:4] == ["1", "1", "0"]
    for section in ("QUEUES", "RUNNING", "FAILED", "FUNCTIONS", "WORKERS"):
        assert section in table.stdout

    as_json = run_queue(database_url, "--json")
    assert as_json.returncode == 0, as_json.stderr
    summary = json.loads(as_json.stdout)
    assert summary["queues"][0]["ready"] == 1 and summary["queues"][0]["deferred"] == 1
    assert summary["outbox"]["waiting"] >= 0
    assert summary["jobs"] == {"queued": 0, "in_progress": 0, "oldest_age_seconds": None}


def test_guildhall_queue_says_when_redis_is_unreachable(database_url: URL) -> None:
    env = os.environ | {
        "DATABASE_URL": database_url.render_as_string(hide_password=False),
        "REDIS_URL": "redis://127.0.0.1:1/0",
    }
    result = subprocess.run(
        [sys.executable, "-m", "guildhall.cli", "queue"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2 and "guildhall queue: cannot read the queues" in result.stderr
