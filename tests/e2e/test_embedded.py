"""`make run` on a machine with no PostgreSQL or Redis: `guildhall servers run -- scripts/run-all.sh`
(what `make run` runs) with GUILDHALL_EMBEDDED=1, on ports and in a directory of this test's own.

It starts the wheels' PostgreSQL and Valkey, migrates, serves; the short worker writes a transfer's
TransferLog; Ctrl-C stops everything, the servers last. After a kill -9 of the whole `make run`
the servers are left running (they are in sessions of their own), and the next start finds them by
their pid files and reuses them, with the data of the first run. It never takes over a port that
something else listens on.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from guildhall.embedded.processes import alive, port_answers, read_pid
from tests.e2e.conftest import BIN, ROOT, SECRET_KEY, api_ready, executable, tail, wait_until
from tests.support.network import free_port

PASSWORD = "embedded-password-123"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 60.0


@dataclass
class Run:
    """One `make run` (its process group) and its output."""

    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def processes(self) -> list[int]:
        """Every live process of its session (the servers are in sessions of their own)."""
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError, IndexError, ValueError):
                    if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[3]) == self.process.pid:
                        found.append(int(entry.name))
        return [pid for pid in found if alive(pid)]


@dataclass
class Embedded:
    home: Path
    pg_port: int
    redis_port: int
    api_port: int
    env: dict[str, str]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def server_pids(self) -> list[int]:
        pids = [read_pid(self.home / "postgres/data/postmaster.pid"), read_pid(self.home / "valkey/valkey.pid")]
        return [pid for pid in pids if pid is not None and alive(pid)]

    def start(self, name: str) -> Run:
        log = self.home.parent / f"{self.home.name}-{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [executable("guildhall"), "servers", "run", "--", str(ROOT / "scripts/run-all.sh")],
                env=self.env, cwd=ROOT, stdout=out, stderr=out, start_new_session=True,
            )  # fmt: skip
        run = Run(process, log)

        def ready() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"make run exited with {process.returncode}:\n{tail(log)}")
            # Our API (it says where it listens), not another process that took the free port since.
            return f"guildhall api: {self.base_url} with" in run.output() and api_ready(self.base_url)

        wait_until(ready, timeout=START_TIMEOUT, what=f"the API of the embedded run ({log})")
        return run

    def ctrl_c(self, run: Run) -> None:
        """What Ctrl-C in the terminal does: SIGINT to every process of the foreground group."""
        os.killpg(run.process.pid, signal.SIGINT)
        try:
            code = run.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"make run did not stop within {STOP_TIMEOUT:.0f} s:\n{tail(run.log)}") from None
        assert code == 0, f"make run exited with {code}:\n{tail(run.log)}"

    def guildhall(self, *args: str, stdin: str = "", extra: dict[str, str] | None = None) -> str:
        result = subprocess.run(
            [executable("guildhall"), *args], env=self.env | (extra or {}), cwd=ROOT, input=stdin,
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert result.returncode == 0, f"guildhall {' '.join(args)}: {result.stdout}{result.stderr}"
        return result.stdout


@pytest.fixture(scope="module")
def embedded() -> Iterator[Embedded]:
    # Not pytest's tmp_path: as root, PostgreSQL runs as another account, which must reach its files.
    home = Path(tempfile.mkdtemp(prefix="guildhall-embedded-")) / "home"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL", "TEST_"))}
    setup = Embedded(home, free_port(), free_port(), free_port(), {})
    setup.env = base | {
        "GUILDHALL_EMBEDDED": "1",
        "GUILDHALL_HOME": str(home),
        "GUILDHALL_PG_PORT": str(setup.pg_port),
        "GUILDHALL_REDIS_PORT": str(setup.redis_port),
        "BIN": str(BIN),
        "PORT": str(setup.api_port),
        "WEB_CONCURRENCY": "1",
        "ENVIRONMENT": "test",
        "SECRET_KEY": SECRET_KEY,
        "PYTHONUNBUFFERED": "1",
    }
    try:
        yield setup
    finally:
        # Whatever a failure left: the servers by their pid files (the runs are killed by their tests).
        for pid in setup.server_pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        wait_until(lambda: not setup.server_pids(), timeout=STOP_TIMEOUT, what="the servers to go")
        shutil.rmtree(home.parent, ignore_errors=True)


def login(client: httpx.Client, username: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def transfer_a_hero(client: httpx.Client, admin: dict[str, str]) -> list[dict[str, Any]]:
    """Two teams, a hero, a transfer; the TransferLog the short worker writes for it."""
    teams = []
    for name in ("embedded-from", "embedded-to"):
        response = client.post("/api/v1/teams", json={"name": name}, headers=admin)
        assert response.status_code == 201, response.text
        teams.append(response.json()["id"])
    hero = {"name": "Embedded", "secret_identity": "nobody", "age": 30, "power_level": 10, "team_id": teams[0]}
    created = client.post("/api/v1/heroes", json=hero, headers=admin)
    assert created.status_code == 201, created.text
    hero_id = created.json()["id"]
    moved = client.post(f"/api/v1/heroes/{hero_id}/transfer", json={"to_team_id": teams[1]}, headers=admin)
    assert moved.status_code == 200, moved.text

    def logs() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = client.get(f"/api/v1/heroes/{hero_id}/transfers").json()["items"]
        return items

    written = wait_until(logs, timeout=30, what="the TransferLog from the worker")
    assert [(log["from_team_id"], log["to_team_id"]) for log in written] == [(teams[0], teams[1])]
    return written


def test_make_run_with_embedded_servers_migrates_serves_audits_and_stops_everything(embedded: Embedded) -> None:
    run = embedded.start("first")
    try:
        line = (
            f"guildhall: embedded servers (GUILDHALL_EMBEDDED=1): PostgreSQL 18 at postgresql+asyncpg://postgres@"
            f"127.0.0.1:{embedded.pg_port}/guildhall, Valkey 8.1.8 at redis://127.0.0.1:{embedded.redis_port}/0;"
            f" data in {embedded.home}"
        )
        assert line in run.output()
        servers = embedded.server_pids()
        assert len(servers) == 2
        # A second terminal with no URL set finds the running embedded servers of this home.
        embedded.guildhall("create-user", "admin", "admin@example.com", "--role", "admin", stdin=PASSWORD + "\n")
        with httpx.Client(base_url=embedded.base_url, timeout=30) as client:
            transfer_a_hero(client, login(client, "admin"))
        started = run.processes()
        embedded.ctrl_c(run)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run.process.pid, signal.SIGKILL)  # a failed test's leftovers (a no-op otherwise)
        run.process.wait()
    # Ctrl-C reached every process; the script's trap stops them its one way and says so (no process
    # reported as exited on its own).
    said = [line for line in run.output().splitlines() if line.startswith("run-all:")]
    assert said == ["run-all: Ctrl-C: stopping the API and the workers", "run-all: stopped cleanly"]
    assert "exited with status" not in run.output()
    wait_until(lambda: not any(alive(pid) for pid in started + servers), timeout=10, what="every process to stop")
    assert not port_answers(embedded.pg_port) and not port_answers(embedded.redis_port)


def test_after_a_kill_9_of_make_run_the_next_start_reuses_its_servers_and_data(embedded: Embedded) -> None:
    crashed = embedded.start("crashed")
    servers = embedded.server_pids()
    os.killpg(crashed.process.pid, signal.SIGKILL)  # make run and everything in its terminal
    crashed.process.wait()
    wait_until(lambda: not crashed.processes(), timeout=10, what="the killed processes to go")
    assert embedded.server_pids() == servers, "the servers outlive a crash of make run"

    run = embedded.start("after-crash")
    try:
        assert "PostgreSQL left running by an earlier run reused; Valkey left running by an earlier run reused" in (
            run.output()
        )
        assert embedded.server_pids() == servers
        with httpx.Client(base_url=embedded.base_url, timeout=30) as client:
            login(client, "admin")  # made by the first test: the data survived two restarts
        embedded.ctrl_c(run)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run.process.pid, signal.SIGKILL)  # a failed test's leftovers (a no-op otherwise)
        run.process.wait()
    wait_until(lambda: not embedded.server_pids(), timeout=10, what="the servers to stop")


def test_a_port_taken_by_another_program_is_named_and_left_alone(embedded: Embedded) -> None:
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the port's closed connections linger
        other.bind(("127.0.0.1", embedded.pg_port))
        other.listen()
        result = subprocess.run(
            [executable("guildhall"), "servers", "run", "--", "true"],
            env=embedded.env, cwd=ROOT, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert f"port {embedded.pg_port} is in use by another program" in line and "GUILDHALL_PG_PORT" in line
    assert not embedded.server_pids()


def test_a_stale_pid_file_is_cleared_and_a_set_url_is_never_replaced(embedded: Embedded) -> None:
    # A postmaster.pid naming a live process that is not PostgreSQL (a reused pid) after a crash.
    pid_file = embedded.home / "postgres/data/postmaster.pid"
    pid_file.write_text(f"{os.getpid()}\n")
    (embedded.home / "valkey/valkey.pid").write_text(f"{os.getpid()}\n")
    result = embedded.guildhall("servers", "run", "--", "sh", "-c", 'echo "$DATABASE_URL"')
    assert result.strip() == f"postgresql+asyncpg://postgres@127.0.0.1:{embedded.pg_port}/guildhall"
    assert alive(os.getpid()) and not embedded.server_pids()

    unreachable = {"DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:1/nowhere"}
    env = {k: v for k, v in embedded.env.items() if k != "GUILDHALL_EMBEDDED"} | unreachable
    result = subprocess.run(
        [executable("guildhall"), "servers", "run", "--", "true"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert "127.0.0.1:1/nowhere" in line and "DATABASE_URL" in line
