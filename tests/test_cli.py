"""The `guildhall` command, run as a real process against the test database."""

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator

import asyncpg
import pytest
from alembic import command
from sqlalchemy.engine import URL

from guildhall.demo import DEMO_PASSWORD
from shared.settings import DEVELOPMENT_SECRET, Settings
from tests.conftest import alembic_config, recreate_database, redis_url_for_tests
from tests.support.cli import run_cli


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


def test_create_user_makes_an_operator_the_role_check_of_the_migrated_database_accepts(database_url: URL) -> None:
    # The test database is built by the migrations: without 0013 its CHECK refuses 'operator'.
    result = run_cli(
        database_url,
        "create-user",
        "cli-operator",
        "cli-operator@example.com",
        "--role",
        "operator",
        stdin="s3cret-pass\n",
    )
    assert result.returncode == 0, result.stderr
    assert "created operator cli-operator" in result.stdout
    stored = asyncio.run(fetch_user(database_url, "cli-operator"))
    assert stored is not None and stored[0] == "operator"


def test_create_user_offers_every_role_and_refuses_another_naming_them(database_url: URL) -> None:
    result = run_cli(database_url, "create-user", "cli-chief", "cli-chief@example.com", "--role", "chief", stdin="x\n")
    assert result.returncode == 2
    assert "'author', 'moderator', 'operator', 'admin'" in result.stderr
    assert asyncio.run(fetch_user(database_url, "cli-chief")) is None


def test_create_user_refuses_bad_input_with_the_field_and_writes_nothing(database_url: URL) -> None:
    result = run_cli(database_url, "create-user", "x", "no-at-sign", stdin="short\n")
    assert result.returncode == 1
    assert "username:" in result.stderr and "email:" in result.stderr and "password:" in result.stderr
    assert asyncio.run(fetch_user(database_url, "x")) is None


def test_check_names_the_url_and_variable_when_postgres_is_down() -> None:
    env = os.environ | {"DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:1/nothing"}
    result = subprocess.run(
        [sys.executable, "-m", "guildhall.cli", "check"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "127.0.0.1:1/nothing" in lines[0] and "DATABASE_URL" in lines[0]


# --- seed-demo: a known admin password, so development databases only ---------------------------


async def _drop_database(url: URL) -> None:
    admin = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, password=url.password, database="postgres"
    )
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
    finally:
        await admin.close()


async def _count_rows(url: URL, *tables: str) -> dict[str, int]:
    connection = await asyncpg.connect(host=url.host, port=url.port, user=url.username, database=url.database)
    try:
        return {table: await connection.fetchval(f"SELECT count(*) FROM {table}") for table in tables}
    finally:
        await connection.close()


@pytest.fixture
def empty_migrated_database(database_url: URL) -> Iterator[URL]:
    """A database of its own, migrated and empty: where seed-demo would otherwise succeed."""
    url = database_url.set(database=f"{database_url.database}_seed_demo")
    asyncio.run(recreate_database(url))
    command.upgrade(alembic_config(url), "head")
    yield url
    asyncio.run(_drop_database(url))


DEMO_TABLES = ("user_account", "post", "team", "hero", "student", "enrollment")


@pytest.mark.parametrize("environment", ["production", "test"])
def test_seed_demo_refuses_outside_development_in_one_line_and_writes_nothing(
    empty_migrated_database: URL, environment: str
) -> None:
    result = run_cli(empty_migrated_database, "seed-demo", env={"ENVIRONMENT": environment})
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("guildhall seed-demo: refused: ")
    assert f"ENVIRONMENT={environment}" in line and "ENVIRONMENT=development" in line
    assert asyncio.run(_count_rows(empty_migrated_database, *DEMO_TABLES)) == dict.fromkeys(DEMO_TABLES, 0)

    # The same database, in development: the demo data set (so the refusal above was the guard's).
    seeded = run_cli(empty_migrated_database, "seed-demo", env={"ENVIRONMENT": "development"})
    assert seeded.returncode == 0, seeded.stderr
    assert seeded.stdout.startswith("demo data: ")
    assert asyncio.run(_count_rows(empty_migrated_database, "user_account"))["user_account"] == 4


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_database_urls_as_hosting_providers_give_them_work(database_url: URL, scheme: str) -> None:
    """`postgres://` and `postgresql://` (what Heroku, Render, Fly, Supabase or Neon hand out) name
    no driver or psycopg's; the settings read them as asyncpg's, so every command works with them."""
    plain = database_url.render_as_string(hide_password=False).replace("postgresql+asyncpg://", f"{scheme}://", 1)
    env = {"DATABASE_URL": plain, "REDIS_URL": redis_url_for_tests()}
    for args in (["check"], ["queue", "--json"]):
        result = subprocess.run(
            [sys.executable, "-m", "guildhall.cli", *args],
            env=os.environ | env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, (args, result.stderr[-2000:])
        assert "Traceback" not in result.stderr


# Every table seed-demo fills (guildhall.demo: the users and CONTENT).
ALL_DEMO_TABLES = (
    "user_account", "category", "product", "post", "comment", "team", "hero", "item", "student", "course",
    "enrollment", "article", "image", "tag",
)  # fmt: skip
DEVELOPMENT = {"ENVIRONMENT": "development"}


def test_seed_demo_goes_in_beside_a_user_created_first_and_refuses_a_second_time(empty_migrated_database: URL) -> None:
    """The README's order: create-user (the first admin), then seed-demo. A second seed-demo would mix
    demo data with demo data: refused in one line naming reset-db, with nothing written."""
    url = empty_migrated_database
    made = run_cli(url, "create-user", "ada", "ada@example.com", "--role", "admin", stdin="a-long-password\n")
    assert made.returncode == 0, made.stderr
    seeded = run_cli(url, "seed-demo", env=DEVELOPMENT)
    assert seeded.returncode == 0, seeded.stderr
    counts = asyncio.run(_count_rows(url, *ALL_DEMO_TABLES))
    assert counts["user_account"] == 5 and all(counts.values()), counts

    again = run_cli(url, "seed-demo", env=DEVELOPMENT)
    assert again.returncode == 1 and again.stdout == "" and "Traceback" not in again.stderr
    [line] = again.stderr.strip().splitlines()
    assert line.startswith("guildhall seed-demo: refused: the demo's users are taken already (admin, alice, bob, mod)")
    assert line.endswith("to start over, empty the database with `guildhall reset-db --yes`")
    assert asyncio.run(_count_rows(url, *ALL_DEMO_TABLES)) == counts


async def _execute(url: URL, sql: str) -> None:
    connection = await asyncpg.connect(host=url.host, port=url.port, user=url.username, database=url.database)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def test_seed_demo_refuses_a_taken_demo_username_or_existing_content_naming_them(empty_migrated_database: URL) -> None:
    url = empty_migrated_database
    taken = run_cli(url, "create-user", "mod", "someone@example.com", stdin="a-long-password\n")
    assert taken.returncode == 0, taken.stderr
    refused = run_cli(url, "seed-demo", env=DEVELOPMENT)
    assert refused.returncode == 1
    assert "the demo's users are taken already (mod)" in refused.stderr and "reset-db --yes" in refused.stderr

    asyncio.run(
        _execute(url, "DELETE FROM user_account; INSERT INTO team (name, headquarters) VALUES ('Mine', 'Home')")
    )
    refused = run_cli(url, "seed-demo", env=DEVELOPMENT)
    assert refused.returncode == 1
    assert "the database has content already (rows in team)" in refused.stderr, refused.stderr
    assert asyncio.run(_count_rows(url, *ALL_DEMO_TABLES)) == {table: int(table == "team") for table in ALL_DEMO_TABLES}


def test_seed_demo_prints_the_api_address_of_host_and_port(empty_migrated_database: URL) -> None:
    """The login line names where `make run` (and `guildhall api`) serve: PORT and HOST, not a fixed 8000."""
    seeded = run_cli(empty_migrated_database, "seed-demo", env=DEVELOPMENT | {"PORT": "8123", "HOST": "0.0.0.0"})
    assert seeded.returncode == 0, seeded.stderr
    login = seeded.stdout.strip().splitlines()[-1]
    # 0.0.0.0 listens on every address, loopback included: the one to connect to on this machine.
    wanted = f"curl -s -X POST http://127.0.0.1:8123/api/v1/auth/token -d username=admin -d password={DEMO_PASSWORD}"
    assert login == f"log in:  {wanted}"


def test_the_api_address_defaults_and_its_ipv6_form() -> None:
    assert Settings(_env_file=None).api_url == "http://127.0.0.1:8000"
    assert Settings(host="::1", port=9000).api_url == "http://[::1]:9000"
    assert Settings(host="localhost", port=9000).api_url == "http://localhost:9000"


def test_guildhall_api_listens_on_host_and_port_when_not_told(database_url: URL) -> None:
    """HOST is read as `make run` reads it: a wildcard with the development secret is refused, naming it."""
    env = {
        "ENVIRONMENT": "development",
        "SECRET_KEY": DEVELOPMENT_SECRET,
        "HOST": "0.0.0.0",
        "REDIS_URL": redis_url_for_tests(),
    }
    result = run_cli(database_url, "api", env=env)
    assert result.returncode == 1, result.stderr
    assert "guildhall api: refusing to listen on 0.0.0.0 with the development SECRET_KEY" in result.stderr
