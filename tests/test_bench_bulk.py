"""The bulk benchmarks run end to end on a tiny size: the HTTP path (POST, the bulk worker as
its own process, GET until complete) and the job's logic against its baselines. Nothing about
speed is asserted (a shared machine under a test run proves nothing); completing, and the job
updating every row, does."""

import re
import subprocess
import sys

from bench.common import ROOT, bench_url

HANG_GUARD_SECONDS = 300


def run_bench(*argv: str) -> str:
    completed = subprocess.run(
        [sys.executable, "-m", *argv], cwd=ROOT, capture_output=True, text=True, timeout=HANG_GUARD_SECONDS, check=False
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    return output


def test_the_end_to_end_bulk_benchmark_completes_a_job_and_prints_its_ratio() -> None:
    output = run_bench("bench.bulk_job", "2000", "--rounds", "1", "--database", f"{bench_url().database}_bulk_job")
    assert re.search(r"^  round 1: one UPDATE \.\.\. FROM unnest +[\d.]+ s +POST \+ job until complete", output, re.M)
    assert re.search(r"^ratio end to end / one UPDATE \.\.\. FROM unnest: [\d.]+x", output, re.M), output


def test_the_bulk_update_benchmark_times_the_job_logic_against_both_baselines() -> None:
    output = run_bench("bench.bulk_update", "2000", f"{bench_url().database}_bulk_update")
    assert "guildhall: the bulk job's logic (from its record)" in output, output
    assert re.search(r"^ratio guildhall / single statement: [\d.]+x", output, re.M), output
