"""`guildhall --help` and the quick commands start without importing the whole stack: guildhall.cli
imports each command's modules inside the command (a structural check, not a timing: the README's
figures come from `time .venv/bin/guildhall --help`)."""

import json
import os
import subprocess
import sys

from sqlalchemy.engine import URL

from guildhall.cli.users import ROLES
from shared.models.users import Role
from tests.conftest import redis_url_for_tests

# Each of these takes tens to hundreds of milliseconds to import, and no quick command uses them.
HEAVY = ("fastapi", "starlette", "services", "arq", "alembic", "sqlmodel", "shared.models", "sqlalchemy.orm")
# `--help` needs argparse alone: not even the settings (pydantic) or a driver.
HEAVY_FOR_HELP = (*HEAVY, "pydantic", "pydantic_settings", "sqlalchemy", "asyncpg", "redis")


def modules_loaded(code: str, env: dict[str, str] | None = None) -> list[str]:
    """The top-level modules (and shared.models, sqlalchemy.orm) a fresh interpreter has after `code`."""
    report = "import json, sys; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", f"{code}\n{report}"],
        env=os.environ | (env or {}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def heavy_among(loaded: list[str], heavy: tuple[str, ...]) -> list[str]:
    return sorted({name for name in heavy for module in loaded if module == name or module.startswith(f"{name}.")})


def test_importing_the_cli_and_building_its_parser_imports_nothing_heavy() -> None:
    loaded = modules_loaded("import guildhall.cli\nguildhall.cli.build_parser()")
    assert heavy_among(loaded, HEAVY_FOR_HELP) == []


def test_check_imports_neither_the_orm_nor_the_api_nor_the_worker(database_url: URL) -> None:
    env = {"DATABASE_URL": database_url.render_as_string(hide_password=False), "REDIS_URL": redis_url_for_tests()}
    loaded = modules_loaded("import guildhall.cli\nassert guildhall.cli.main(['check']) == 0", env)
    assert heavy_among(loaded, HEAVY) == []


def test_the_role_choices_spelled_out_in_the_cli_are_the_models_roles() -> None:
    assert tuple(role.value for role in Role) == ROLES
