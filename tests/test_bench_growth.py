"""The growth benchmark runs end to end at a tiny size (its own database and Redis db, the real API
as a process) and prints a row with both ratios for every read and every cron pass; every GET route
of the app is timed or excluded with a reason. Nothing about speed is asserted: a tiny run on a shared
machine proves nothing about growth; completing, covering every read and answering 200 does."""

import os
import re
import subprocess
import sys
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url

from bench.common import ROOT
from bench.growth_reads import Targets, reads
from bench.growth_routes import EXCLUDED, get_routes, uncovered
from bench.growth_shape import Scale
from shared.jobs import registry
from shared.settings import get_settings

SIZES = (50, 100)
# A guard against a hung child, not a timing assertion.
HANG_GUARD_SECONDS = 300
RATIO = r"\d+\.\d\dx"


def bench_place() -> tuple[str, str, int]:
    """A database of the benchmark's own beside the test database (named after it, so a run with
    TEST_DATABASE_URL never meets another run's), and the test Redis db (TEST_REDIS_URL, else db
    15), which the benchmark takes only while empty or its own."""
    test_database = make_url(os.environ.get("TEST_DATABASE_URL") or get_settings().database_url).database
    test_redis = os.environ.get("TEST_REDIS_URL") or urlsplit(get_settings().redis_url)._replace(path="/15").geturl()
    return f"{test_database}_growth", test_redis, int(urlsplit(test_redis).path.strip("/") or 0)


def timed_routes() -> set[str]:
    return {read.route for read in reads(Scale(SIZES[-1]), Targets(1, "record", "job"))}


def test_every_get_route_is_timed_or_excluded_with_a_reason() -> None:
    assert uncovered(timed_routes()) == []
    assert all(reason.strip() for reason in EXCLUDED.values())


def test_the_coverage_check_sees_a_route_left_out() -> None:
    # The check itself: a timed route dropped from the list is reported, and so is an exclusion of
    # a route the app no longer serves.
    left_out = "/api/v1/posts/{post_id}/comments"
    assert left_out in get_routes()
    assert uncovered(timed_routes() - {left_out}) == [left_out]
    stale = {**EXCLUDED, "/gone": "a page that was removed"}
    assert uncovered(timed_routes(), stale) == ["/gone (excluded, but no such route)"]


def test_the_tiny_growth_run_prints_every_read_and_both_ratios() -> None:
    database, redis, redis_db = bench_place()
    argv = ["--sizes", ",".join(map(str, SIZES)), "--repeat", "1", "--database", database]
    argv += ["--redis-url", redis, "--redis-db", str(redis_db)]
    completed = subprocess.run(
        [sys.executable, "-m", "bench.growth", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_SECONDS,
        check=False,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    header = rf"^read\s+caller\s+{SIZES[0]} rows\s+{SIZES[1]} rows\s+time\s+size$"
    assert re.search(header, output, re.MULTILINE), output
    for read in reads(Scale(SIZES[-1]), Targets(1, "record", "job")):
        for caller in read.callers:
            # Two sizes, each a time and a size, then the time ratio and the size ratio.
            row = rf"^{re.escape(read.label)}\s+{caller}\s+.*\s{RATIO}[!\s]\s+{RATIO}[\^\s]?"
            assert re.search(row, output, re.MULTILINE), f"no row with ratios for {read.label} [{caller}]:\n{output}"
    for cron in registry.crons():
        row = rf"^pass of {re.escape(cron.name)}\s+worker\s+.*\s{RATIO}"
        assert re.search(row, output, re.MULTILINE), f"no row for {cron.name}:\n{output}"
    # Every read answered 200 at both sizes (a 4xx would mean the benchmark asks the wrong thing).
    assert not re.search(r"answered \d{3}", output), output
    assert re.search(r"^findings: \d+", output, re.MULTILINE), output
    assert "GET routes neither timed nor excluded: none" in output, output
