"""`make run` installs only what the service needs; `make test` adds the dev extra on top.

Two checks: what make would run (its recipes, on a venv path that does not exist), and that every
process's code imports and starts with the dev extra's packages unimportable, as in a run-only
install (or the Docker image, which installs no extra at all).
"""

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def planned(target: str, venv: Path) -> list[str]:
    result = subprocess.run(
        ["make", "-n", target, f"VENV={venv}"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return [line for line in result.stdout.splitlines() if "pip install" in line and "--upgrade pip" not in line]


def test_make_run_installs_the_service_and_make_test_adds_the_dev_extra(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    assert planned("run", venv) == [f"{venv}/bin/python -m pip install -c constraints.txt -e '.[embedded]'"]
    assert planned("test", venv) == [
        f"{venv}/bin/python -m pip install -c constraints.txt -e '.[embedded]'",
        f"{venv}/bin/python -m pip install -c constraints.txt -e '.[dev,embedded]'",
    ]


# Each process's entry points, imported and built as they start.
START = """
import services.api.main, services.worker.main, guildhall.cli
services.api.main.create_app()
guildhall.cli.build_parser()
"""

BLOCK = """
import importlib.abc, sys
blocked = {blocked!r}
class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ModuleNotFoundError(f"{{name}} is in the dev extra, not in a run-only install")
sys.meta_path.insert(0, NotInstalled())
"""


def dev_only_modules() -> set[str]:
    """The import names of the dev extra's packages that the run install does not also bring."""
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]
    names = {requirement.split(">")[0].split("[")[0].split("=")[0].strip() for requirement in extra}
    return {name.replace("-", "_") for name in names}


def test_every_process_starts_without_the_dev_extra() -> None:
    blocked = dev_only_modules()
    assert {"pytest", "httpx", "schemathesis", "playwright", "ruff", "psycopg"} <= blocked
    result = subprocess.run(
        [sys.executable, "-c", BLOCK.format(blocked=sorted(blocked)) + START],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    # The blocker works: importing one of them fails.
    probe = subprocess.run(
        [sys.executable, "-c", BLOCK.format(blocked=sorted(blocked)) + "import httpx"], capture_output=True, text=True
    )
    assert probe.returncode != 0 and "dev extra" in probe.stderr
