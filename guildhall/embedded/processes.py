"""Processes and ports, read from /proc and by connecting: what is running, and is it ours."""

import contextlib
import os
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path


class EmbeddedError(Exception):
    """An embedded server could not be started or stopped; the message is one line for a person."""


def port_answers(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """True if something accepts a TCP connection on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def read_pid(path: Path) -> int | None:
    """The pid on the first line of a pid file (PostgreSQL's postmaster.pid too), or None."""
    try:
        first = path.read_text().split("\n", 1)[0].strip()
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return None
    return int(first) if first.isdigit() else None


def alive(pid: int) -> bool:
    """Running and not a zombie (a zombie is an exited child not yet reaped)."""
    reap(pid)
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return status.rsplit(")", 1)[-1].split()[0] != "Z"


def reap(pid: int) -> None:
    """Collect `pid`'s exit status if it is our child (no zombie is left behind); else nothing."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def runs_binary(pid: int, binary: Path) -> bool:
    """True if process `pid` is running `binary` (a pid file's pid may have been reused since)."""
    try:
        return Path(os.readlink(f"/proc/{pid}/exe")) == binary.resolve()
    except OSError:
        return False


def wait_for(check: Callable[[], bool], *, timeout: float, interval: float = 0.05) -> bool:
    """Poll `check` until it is true (True) or `timeout` seconds passed (False)."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)


def terminate(pid: int, *, timeout: float) -> None:
    """SIGTERM, then SIGKILL after `timeout` seconds; returns once the process is gone."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if wait_for(lambda: not alive(pid), timeout=timeout):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not alive(pid), timeout=5)
