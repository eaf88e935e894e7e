"""The `guildhall` command, run as a real process against the test database."""

import asyncio
import os
import subprocess
import sys

import asyncpg
from sqlalchemy.engine import URL


def run_cli(database_url: URL, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = os.environ | {"DATABASE_URL": database_url.render_as_string(hide_password=False)}
    return subprocess.run(
        [sys.executable, "-m", "shared.cli", *args], input=stdin, env=env, capture_output=True, text=True, timeout=60
    )


async def fetch_user(url: URL, username: str) -> tuple[str, str] | None:
    connection = await asyncpg.connect(host=url.host, port=url.port, user=url.username, database=url.database)
    try:
        row = await connection.fetchrow("SELECT role, hashed_password FROM user_account WHERE username = $1", username)
        await connection.execute("DELETE FROM user_account WHERE username = $1", username)
    finally:
        await connection.close()
    return (row["role"], row["hashed_password"]) if row else None


def test_create_user_bootstraps_an_admin_with_a_hashed_password_from_stdin(database_url: URL) -> None:
    result = run_cli(
        database_url, "create-user", "cli-admin", "cli-admin@example.com", "--role", "admin", stdin="s3cret-pass\n"
    )
    assert result.returncode == 0, result.stderr
    assert "created admin cli-admin" in result.stdout
    stored = asyncio.run(fetch_user(database_url, "cli-admin"))
    assert stored is not None
    role, hashed = stored
    assert role == "admin" and hashed.startswith("$argon2") and "s3cret-pass" not in hashed


def test_create_user_refuses_bad_input_with_the_field_and_writes_nothing(database_url: URL) -> None:
    result = run_cli(database_url, "create-user", "x", "no-at-sign", stdin="short\n")
    assert result.returncode == 1
    assert "username:" in result.stderr and "email:" in result.stderr and "password:" in result.stderr
    assert asyncio.run(fetch_user(database_url, "x")) is None


def test_check_names_the_url_and_variable_when_postgres_is_down() -> None:
    env = os.environ | {"DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:1/nothing"}
    result = subprocess.run(
        [sys.executable, "-m", "shared.cli", "check"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "127.0.0.1:1/nothing" in lines[0] and "DATABASE_URL" in lines[0]
