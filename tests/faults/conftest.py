"""Fault tests: servers of their own (a private redis-server here), started in a temporary
directory on a free port, so a test may fill, block, demote or restart them without touching the
machine's shared PostgreSQL and Redis."""

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


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
        binary = shutil.which("redis-server")
        assert binary is not None, "redis-server is required (Debian package redis-server)"
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
