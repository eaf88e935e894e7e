"""End to end: `python -m bench.api --quick` starts every app (Guildhall through a PgBouncer
of its own among them), loads each with wrk (the reads too, on Guildhall and two baselines),
measures the nested read and the audit pipeline, and prints its tables, the ratios and goals. Nothing about speed
is asserted: numbers from a shared machine under a test run prove nothing; completing does."""

import os
import re
import shutil
import subprocess
import sys

import pytest

from bench.common import ROOT, bench_url

APP_ROWS = (
    "seed-sync",
    "minimal-async",
    "fastapi-asyncpg",
    "starlette-asyncpg",
    "guildhall",
    "guildhall pgbouncer",
    "guildhall x2",
)
READ_APPS = ("minimal-async", "fastapi-asyncpg", "guildhall")
READS_HEADER = r"^app\s+\|\s+one rps\s+\|\s+one p99\s+\|\s+page rps\s+\|\s+page p99\s+\|\s+errors$"
HEADER = r"^app\s+\|\s+posts rps\s+\|\s+posts p99\s+\|\s+transfers rps\s+\|\s+transfers p99\s+\|\s+errors$"
# A guard against a hung child, not a timing assertion.
HANG_GUARD_SECONDS = 900


def test_quick_benchmark_completes_and_prints_its_table() -> None:
    if shutil.which("wrk") is None:
        pytest.fail("the API benchmark needs wrk on PATH (Debian: apt-get install -y wrk)")
    if shutil.which("pgbouncer", path=f"{os.environ.get('PATH', '')}:/usr/sbin") is None:
        pytest.fail("the API benchmark needs pgbouncer (Debian: apt-get install -y pgbouncer)")
    # Its own scratch database: a full benchmark running meanwhile keeps `<name>_bench`, and another
    # checkout's test run on the same server (the pid) keeps its own.
    database = f"{bench_url().database}_quick_{os.getpid()}"
    completed = subprocess.run(
        [sys.executable, "-m", "bench.api", "--quick", "--database", database],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_SECONDS,
        check=False,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    assert re.search(HEADER, output, re.MULTILINE), output
    for app in APP_ROWS:
        assert re.search(rf"^{re.escape(app)}\s+\|", output, re.MULTILINE), f"no table row for {app}:\n{output}"
    # Guildhall through PgBouncer served both workloads without one failed request (what the
    # pooler breaks, a named prepared statement or a startup parameter, answers 5xx, which its
    # rps ratio alone would hide), and the report set each workload against Guildhall direct.
    for kind in ("posts", "transfers"):
        pooler_ratio = rf"^  {kind}\s+through PgBouncer / direct: rps \d+\.\d\dx, p99 \d+\.\d\dx$"
        assert re.search(pooler_ratio, output, re.MULTILINE), f"no pooler ratio for {kind}:\n{output}"
    assert re.search(r"^guildhall pgbouncer\s+\|(\s+[\d.]+( ms)?\s+\|){4}\s+0$", output, re.MULTILINE), output
    assert "same JSON content:" in output, output
    # The reads (GET /posts/{id}, GET /posts?limit=20): each read app served both without one
    # failed request, the report set Guildhall against both baselines on each, and the baselines
    # answered the sample requests (two posts, a draft's 404, the first page) exactly as Guildhall.
    header = re.search(READS_HEADER, output, re.MULTILINE)
    assert header, output
    reads_table = output[header.end() :].split("\n\n")[0]
    for app in READ_APPS:
        row = rf"^{re.escape(app)}\s+\|(\s+[\d.]+( ms)?\s+\|){{4}}\s+0$"
        assert re.search(row, reads_table, re.MULTILINE), f"no clean reads row for {app}:\n{output}"
    for kind in ("read one", "read page"):
        for baseline in READ_APPS[:2]:
            ratio = rf"^  {kind}\s+vs {baseline}\s+rps \d+\.\d\dx, p99 \d+\.\d\dx$"
            assert re.search(ratio, output, re.MULTILINE), f"no {kind} ratio vs {baseline}:\n{output}"
    assert re.search(
        r"^  same answers as guildhall \(minimal-async, fastapi-asyncpg; .*\): yes$", output, re.MULTILINE
    ), output
    # The open-loop generator (bench/api/rawhttp.py) sent every transfer, read every answer
    # and matched each to exactly one log: the pipeline's correctness, not its speed.
    assert "failed: none" in output, output
    assert re.search(r"^  transfer_log rows .*: missing 0, duplicated 0, unexpected 0$", output, re.MULTILINE), output
    assert len(re.findall(r"^(PASS|MISS)  ", output, re.MULTILINE)) == 15, output
