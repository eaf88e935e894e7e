"""`guildhall servers status` names the servers in use: the configured (or default) ones, and
whether they answer, before the embedded pair, whose "not running" no longer reads as if nothing
served. Embedded servers running are proven in tests/e2e/test_embedded.py; here none runs."""

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from tests.conftest import redis_url_for_tests


def status(env: dict[str, str], *args: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-m", "guildhall.cli", "servers", "status", *args],
        env=os.environ | env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def address(url: str | URL, default_port: int) -> str:
    parsed = make_url(url)
    return f"{parsed.host}:{parsed.port or default_port}"


def test_status_names_the_configured_servers_in_use_and_the_embedded_ones_apart(
    database_url: URL, tmp_path: Path
) -> None:
    env = {
        "DATABASE_URL": database_url.render_as_string(hide_password=False),
        "REDIS_URL": redis_url_for_tests(),
        "GUILDHALL_HOME": str(tmp_path),  # an embedded pair that is certainly not running
    }
    postgres, redis, choice = status(env)
    assert postgres == (
        f"PostgreSQL: {address(database_url, 5432)} (DATABASE_URL, answering, in use);"
        f" embedded server: not running ({tmp_path}/postgres)"
    )
    assert redis == (
        f"Redis: {address(redis_url_for_tests(), 6379)} (REDIS_URL, answering, in use);"
        f" embedded Valkey: not running ({tmp_path}/valkey)"
    )
    assert choice == "make run would use the servers (from DATABASE_URL, REDIS_URL)"


def test_status_says_a_configured_server_does_not_answer(tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": "postgresql+asyncpg://postgres:secret@127.0.0.1:1/nowhere",
        "REDIS_URL": redis_url_for_tests(),
        "GUILDHALL_HOME": str(tmp_path),
    }
    postgres, *_ = status(env)
    assert postgres.startswith("PostgreSQL: 127.0.0.1:1 (DATABASE_URL, not answering, in use); embedded server: ")
    assert "secret" not in postgres


def test_status_of_the_test_harness_pair_marks_nothing_in_use(database_url: URL, tmp_path: Path) -> None:
    """Only a test run uses that pair (tests/conftest.py decides), so neither side is called in use."""
    env = {
        "DATABASE_URL": database_url.render_as_string(hide_password=False),
        "REDIS_URL": redis_url_for_tests(),
        "GUILDHALL_HOME": str(tmp_path),
    }
    postgres, redis, _ = status(env, "--tests")
    assert postgres.endswith(f"(DATABASE_URL, answering); embedded server: not running ({tmp_path}/test/postgres)")
    assert redis.endswith(f"(REDIS_URL, answering); embedded Valkey: not running ({tmp_path}/test/valkey)")
