"""Ctrl-C ends a `guildhall` command quietly with exit code 130 (128 + SIGINT), whichever line it
lands on: inside asyncio.run (reading the queues), while drawing, or while sleeping."""

import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy.engine import URL

from tests.conftest import redis_url_for_tests


# Three delays after the first redraw: straight away, and part-way into later rounds. With a 50 ms
# interval most of each round is spent in asyncio.run, where the interrupt used to escape as a traceback.
@pytest.mark.parametrize("delay", [0.0, 0.13, 0.31])
def test_ctrl_c_stops_queue_watch_with_130_and_no_traceback(database_url: URL, delay: float) -> None:
    env = os.environ | {
        "DATABASE_URL": database_url.render_as_string(hide_password=False),
        "REDIS_URL": redis_url_for_tests(),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "guildhall.cli", "queue", "--watch", "--interval", "0.05"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()  # the first redraw is on screen: the command is running
        assert first, process.communicate(timeout=30)[1]
        time.sleep(delay)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
