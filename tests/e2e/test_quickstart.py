"""README's Quickstart, run as written: `make run` in one terminal, then the second block's commands
in order in another, then the pages it links, then Ctrl-C. The only change made to the text is the
port (a free one instead of 8000, set with `PORT` as the Quickstart says), and each command's
output is checked for what the comment beside it promises.

It runs on a database of its own (created by `make run`'s migrate, dropped after) and a db index
of the suite's private Redis, with nothing else set: no `ENVIRONMENT`, no `SECRET_KEY`, as a
newcomer's shell would have it.
"""

import contextlib
import json
import os
import re
import signal
import subprocess
from pathlib import Path

import httpx

from tests.e2e.conftest import ROOT, STOP_TIMEOUT, Stack, api_ready, drop_database, e2e_database_url, tail, wait_until
from tests.support.network import free_port

SH_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)
MARK = "@@quickstart-command-done@@"
# What a newcomer's shell does not have; the suite's own settings would hide what the README omits.
SUITE_ONLY = ("ENVIRONMENT", "SECRET_KEY", "WRITE_LIMITS", "DATABASE", "REDIS", "TEST_", "PORT", "HOST", "API_DOCS")


def quickstart() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Quickstart\n", 1)[1].split("\n## ", 1)[0]
    assert len(section.strip().splitlines()) <= 24, "the Quickstart is at most about 20 lines"
    return section


def commands(block: str) -> list[str]:
    return [line for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_the_readme_quickstart_works_as_written(stack: Stack, tmp_path: Path) -> None:
    section = quickstart()
    first, second = SH_BLOCK.findall(section)
    assert commands(first) == ["make run" + first.split("make run", 1)[1].rstrip("\n")]
    port = free_port()
    here = f"127.0.0.1:{port}"
    steps = [line.replace("127.0.0.1:8000", here) for line in commands(second)]
    database = e2e_database_url().set(database=f"{e2e_database_url().database}_quickstart")
    drop_database(database)
    env = {k: v for k, v in os.environ.items() if not k.startswith(SUITE_ONLY)}
    env |= {
        "PORT": str(port),
        "DATABASE_URL": database.render_as_string(hide_password=False),
        "REDIS_URL": stack.redis_url.replace("/0", "/5"),
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp_path / "make-run.log"
    with log.open("wb") as out:
        run = subprocess.Popen(["make", "run"], env=env, cwd=ROOT, stdout=out, stderr=out, start_new_session=True)
    try:
        wait_until(lambda: api_ready(f"http://{here}"), timeout=90, what=f"make run's API:\n{tail(log)}")

        # The second terminal: one shell running the commands in order, a mark after each.
        script = "set -euo pipefail\n" + "".join(f"{step}\necho {MARK}\n" for step in steps)
        shell = subprocess.run(
            ["bash", "-c", script], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
        )
        assert shell.returncode == 0, f"{shell.stdout}\n{shell.stderr}"
        outputs = shell.stdout.split(MARK + "\n")[:-1]
        assert len(outputs) == len(steps)
        seed, _, search, token, transfer = outputs
        assert "admin" in seed and f"http://{here}" in seed, seed
        found = json.loads(search)["items"]
        assert found and all("async" in post["title"].lower() for post in found)
        assert token == ""  # TOKEN=... prints nothing
        moved = json.loads(transfer)
        assert moved["hero_id"] == 1 and moved["to_team_id"] == 2, moved

        # The pages it links.
        assert "http://127.0.0.1:8000/docs" in section and "http://127.0.0.1:8000/ops" in section
        with httpx.Client(base_url=f"http://{here}", timeout=10) as client:
            assert client.get("/docs").status_code == 200
            assert client.get("/ops").status_code == 200
            assert client.get("/").status_code == 200

        # `guildhall reset-db --yes`, then the demo again: the way to start over.
        assert "`guildhall reset-db --yes`" in section
        for again in (["reset-db", "--yes"], ["seed-demo"]):
            result = subprocess.run(
                [str(ROOT / ".venv/bin/guildhall"), *again], env=env, cwd=ROOT, capture_output=True, text=True
            )
            assert result.returncode == 0, result.stdout + result.stderr

        # Ctrl-C in the first terminal: SIGINT to its foreground process group.
        os.killpg(run.pid, signal.SIGINT)
        run.wait(timeout=60)
        said = [line for line in log.read_text().splitlines() if line.startswith("run-all:")]
        assert said == ["run-all: Ctrl-C: stopping the API and the workers", "run-all: stopped cleanly"]
        assert "Traceback" not in log.read_text(), tail(log)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run.pid, signal.SIGKILL)
        run.wait(timeout=STOP_TIMEOUT)
        drop_database(database)
