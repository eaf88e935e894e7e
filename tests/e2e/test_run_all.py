"""`make run`'s script: WEB_CONCURRENCY API processes on one port beside both workers, said at
start; one SIGTERM (Ctrl-C) stops every process it started and says it stopped cleanly; a process
that dies on its own is named, with its status, and the rest are stopped."""

import contextlib
import os
import signal
import subprocess
from pathlib import Path

import httpx

from tests.e2e.conftest import BIN, ROOT, STOP_TIMEOUT, Stack, api_ready, wait_until
from tests.support.network import free_port

METRICS_TOKEN = "run-all-metrics-token"


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(child) for child in text]
    return found


def servers(pid: int) -> list[int]:
    return [child for child in children(pid) if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "(zombie)" not in Path(f"/proc/{pid}/status").read_text()


def test_run_all_starts_web_concurrency_api_processes_and_stops_them_all(stack: Stack, tmp_path: Path) -> None:
    port = free_port()
    env = {
        **stack.env,
        "BIN": str(BIN),
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "METRICS_TOKEN": METRICS_TOKEN,
        "REDIS_URL": stack.redis_url.replace("/0", "/3"),  # its workers stay off the suite's queues
    }
    log = tmp_path / "run-all.log"
    with log.open("wb") as out:
        # A session of its own, so that whatever happens the finalizer can stop every process in it.
        script = subprocess.Popen(
            [str(ROOT / "scripts/run-all.sh")], env=env, cwd=ROOT, stdout=out, stderr=out, start_new_session=True
        )
    try:
        wait_until(lambda: api_ready(f"http://127.0.0.1:{port}"), timeout=60, what="run-all's API")
        assert f"guildhall api: http://127.0.0.1:{port} with 2 process(es) (WEB_CONCURRENCY)" in log.read_text()
        started = children(script.pid)
        [uvicorn] = [pid for pid in started if b"api" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")]
        assert len(started) == 3  # the API's supervisor and the two workers
        # uvicorn's supervisor forks one server process per WEB_CONCURRENCY (plus a resource tracker).
        wait_until(lambda: len(servers(uvicorn)) == 2, timeout=30, what="2 API server processes")
        started += children(uvicorn)
        # Both processes answer on the one port (a new connection each time), and /metrics, whichever
        # process answers it, counts the requests of both.
        base = f"http://127.0.0.1:{port}"
        assert all(httpx.get(f"{base}/healthz").status_code == 200 for _ in range(40))
        for _ in range(4):
            metrics = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
            assert metrics.status_code == 200
            assert 'guildhall_http_requests_total{method="GET",route="/healthz",status="200"} 40.0' in metrics.text

        script.send_signal(signal.SIGTERM)  # what Ctrl-C in `make run` does
        # Bounded by the workers' job_completion_wait (30 s for the short queue, should a swept outbox
        # job of the suite's database be running) plus shutdown, with room for a busy machine.
        try:
            assert script.wait(timeout=90) == 0
        except subprocess.TimeoutExpired:
            raise AssertionError(f"run-all did not stop within 90 s:\n{log.read_text()[-4000:]}") from None
        wait_until(lambda: not any(alive(pid) for pid in started), timeout=STOP_TIMEOUT, what="every process to stop")
        said = [line for line in log.read_text().splitlines() if line.startswith("run-all:")]
        assert said == ["run-all: SIGTERM: stopping the API and the workers", "run-all: stopped cleanly"]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(script.pid, signal.SIGKILL)  # leftovers of a failed test, if any (no-op otherwise)
        script.wait()


def test_a_process_that_dies_is_named_with_its_status_and_the_rest_stop(stack: Stack, tmp_path: Path) -> None:
    port = free_port()
    env = {**stack.env, "BIN": str(BIN), "PORT": str(port), "WEB_CONCURRENCY": "1"}
    env["REDIS_URL"] = stack.redis_url.replace("/0", "/3")
    log = tmp_path / "run-all.log"
    with log.open("wb") as out:
        script = subprocess.Popen(
            [str(ROOT / "scripts/run-all.sh")], env=env, cwd=ROOT, stdout=out, stderr=out, start_new_session=True
        )
    try:
        wait_until(lambda: api_ready(f"http://127.0.0.1:{port}"), timeout=60, what="run-all's API")
        started = children(script.pid)
        [bulk] = [pid for pid in started if b"bulk" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")]
        os.kill(bulk, signal.SIGKILL)  # a crash: the script must not keep half a service running
        assert script.wait(timeout=90) == 128 + signal.SIGKILL
        wait_until(lambda: not any(alive(pid) for pid in started), timeout=STOP_TIMEOUT, what="every process to stop")
        said = [line for line in log.read_text().splitlines() if line.startswith("run-all:")]
        assert said == [
            "run-all: the bulk-queue worker exited with status 137: stopping the API and the workers",
            "run-all: stopped cleanly",
        ]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(script.pid, signal.SIGKILL)
        script.wait()
