"""DATABASE_URL in the forms people paste: every command reads it through the settings
(shared.settings.asyncpg_url), so `guildhall check` reaches the database exactly as `migrate` and
the rest do, and a form Guildhall cannot use is one line naming the one wanted, for every command."""

import os
import subprocess
import sys

import pytest
from sqlalchemy.engine import URL

from shared.settings import asyncpg_url
from tests.conftest import redis_url_for_tests

# The driver part of the scheme names SQLAlchemy's other PostgreSQL drivers: same server, user and
# database, so the URL is read as asyncpg's. `?sslmode=disable` is libpq's spelling of asyncpg's ssl=.
ACCEPTED = [
    "postgres://",
    "postgresql://",
    "postgresql+asyncpg://",
    "postgresql+psycopg://",
    "postgresql+psycopg2://",
    "postgresql+pg8000://",
    "POSTGRESQL+PSYCOPG://",
]
WANTED = "use postgresql+asyncpg://USER:PASSWORD@HOST:PORT/DATABASE (or postgresql://...)"
REFUSED = {
    "mysql://guildhall:pw-hidden@127.0.0.1/guildhall": "DATABASE_URL is a mysql:// URL, not PostgreSQL's: " + WANTED,
    "postgresql+foo://guildhall:pw-hidden@127.0.0.1/guildhall": (
        "DATABASE_URL names the driver 'foo' (postgresql+foo://), which Guildhall does not use: " + WANTED
    ),
    "127.0.0.1:5432/guildhall": "DATABASE_URL is not a URL: " + WANTED,
    "postgresql://guildhall:pw-hidden@127.0.0.1/guildhall?sslmode=require&channel_binding=require": (
        "DATABASE_URL has channel_binding=, which asyncpg (Guildhall's driver) does not take: remove it"
    ),
}


def guildhall(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"DATABASE_URL": database_url, "REDIS_URL": redis_url_for_tests()}
    return subprocess.run(
        [sys.executable, "-m", "guildhall.cli", *args], env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("scheme", ACCEPTED)
def test_check_and_migrate_both_work_with_each_accepted_form(database_url: URL, scheme: str) -> None:
    url = database_url.render_as_string(hide_password=False).replace("postgresql+asyncpg://", scheme, 1)
    url += "?sslmode=disable"
    check = guildhall(url, "check")
    assert check.returncode == 0, check.stderr
    # What check says it reached is the URL every other command uses: the settings' reading of it.
    assert check.stdout.startswith(f"PostgreSQL ok at postgresql+asyncpg://{database_url.username}@")
    assert f"/{database_url.database}?ssl=disable;" in check.stdout
    migrate = guildhall(url, "migrate")  # the session's database is at head already: nothing to apply
    assert migrate.returncode == 0, migrate.stderr
    assert f"database {database_url.database} already exists" in migrate.stdout
    assert "Traceback" not in check.stderr + migrate.stderr


@pytest.mark.parametrize("url", REFUSED, ids=lambda url: url.split(":", 1)[0])
def test_a_form_guildhall_cannot_use_is_one_line_for_check_and_migrate_alike(url: str) -> None:
    lines = {}
    for command in ("check", "migrate"):
        result = guildhall(url, command)
        assert result.returncode == 1 and result.stdout == "", (command, result.stdout, result.stderr)
        [line] = result.stderr.strip().splitlines()
        assert "pw-hidden" not in line
        lines[command] = line.removeprefix(f"guildhall {command}: ")
    assert lines["check"] == lines["migrate"] == f"invalid configuration: database_url: {REFUSED[url]}"


def test_sslmode_is_renamed_in_the_query_alone() -> None:
    """A password may hold `sslmode=` or `?`: only the query after the host is rewritten."""
    url = "postgresql://ada:x?sslmode=y@db.example:5432/guildhall?sslmode=require&application=x"
    assert (
        asyncpg_url(url) == "postgresql+asyncpg://ada:x?sslmode=y@db.example:5432/guildhall?ssl=require&application=x"
    )
    both = "postgresql+asyncpg://db.example/guildhall?ssl=verify-full&sslmode=require"
    assert asyncpg_url(both) == both  # ssl= said already: left for asyncpg to judge


def test_the_other_database_urls_are_read_and_named_the_same_way() -> None:
    from shared.settings import Settings

    settings = Settings(database_direct_url="postgresql+psycopg2://db.example/guildhall")
    assert settings.direct_database_url == "postgresql+asyncpg://db.example/guildhall"
    with pytest.raises(ValueError, match=r"DATABASE_READ_URL is a sqlite:// URL, not PostgreSQL's"):
        Settings(database_read_url="sqlite:///guildhall.db")
