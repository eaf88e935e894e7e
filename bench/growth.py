"""Growth: does a request cost the same at a million rows as at ten thousand? (issue 21)

    .venv/bin/python -m bench.growth [--sizes 10000,100000,1000000] [--repeat 7] [--check] [--keep]

Builds its own data in its own database (`guildhall_growth`, migrated with Alembic, dropped at the
end unless --keep) and its own Redis db (index 9 unless --redis-db), growing the same database step
by step to each size (bench/growth_data.py: set-based INSERT ... SELECT, then VACUUM ANALYZE). At each
size it starts the real API (uvicorn, one process) on it and times every read the app offers over
HTTP, for each kind of caller (bench/growth_reads.py), with the size's queued jobs in Redis
(a tenth of the size: 10^5 at 10^6 rows); then each cron job's pass, called as the worker calls it
(bench/growth_ops.py). It prints one table: times and response sizes at each size, the ratio of the
largest size to the smallest, and the findings (a time ratio over 2x, a response that grows). It
reports; it does not judge, unless --check: then any finding exits 1.
"""

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

from bench.api.apps import GUILDHALL_HTTP, GUILDHALL_TARGET
from bench.api.client import skip_sniffio_lookups
from bench.api.processes import start, uvicorn_argv, wait_ready
from bench.common import ROOT, free_port
from bench.growth_data import grow
from bench.growth_db import (
    DEFAULT_DATABASE,
    DEFAULT_REDIS_DB,
    Place,
    growth_database,
    plain,
    redis_url,
    release_redis_db,
    take_redis_db,
)
from bench.growth_http import Callers, Measure, measure
from bench.growth_ops import Sweepers, crons, fill_queues, worker_settings
from bench.growth_reads import ADMIN_CALLER, AUTHOR_CALLER, find_targets, reads
from bench.growth_report import Row, report
from bench.growth_routes import uncovered
from bench.growth_shape import ADMIN, AUTHOR, USERNAMES, Scale
from shared.auth.passwords import hash_password

PASSWORD = "growth-bench-password"
DEFAULT_SIZES = "10000,100000,1000000"


def parse_sizes(text: str) -> list[int]:
    sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    if len(sizes) < 2 or sizes != sorted(set(sizes)) or sizes[0] < 1:
        raise argparse.ArgumentTypeError("at least two sizes, ascending, each at least 1")
    return sizes


def revision() -> str:
    """The commit measured, and whether the checkout had changes on top of it."""

    def git(*argv: str) -> str:
        return subprocess.run(["git", *argv], cwd=ROOT, capture_output=True, text=True, check=False).stdout

    head, dirty = git("rev-parse", "--short", "HEAD"), git("status", "--porcelain")
    changed = len([line for line in dirty.splitlines() if not line.startswith("??")])
    return (head.strip() or "unknown") + (f" with {changed} changed file(s)" if changed else "")


class Run:
    def __init__(self, place: Place, repeat: int, work_dir: Path) -> None:
        self.place = place
        self.repeat = repeat
        self.work_dir = work_dir
        self.rows: dict[tuple[str, str], Row] = {}
        self.routes: set[str] = set()

    def row(self, label: str, caller: str, *, sized: bool = True) -> Row:
        return self.rows.setdefault((label, caller), Row(label, caller, sized=sized))

    async def size(self, connection: asyncpg.Connection, scale: Scale) -> None:
        queued = await fill_queues(self.place.redis, scale.queued_jobs)
        targets = await find_targets(connection, queued.ready_id)
        port = free_port()
        api = await start(
            "api", uvicorn_argv(GUILDHALL_TARGET, port, 1, GUILDHALL_HTTP), self.place.api_env(), self.work_dir
        )
        callers = Callers(f"http://127.0.0.1:{port}")
        try:
            await wait_ready(api, f"http://127.0.0.1:{port}/readyz")
            await callers.open(
                {AUTHOR_CALLER: (USERNAMES[AUTHOR], PASSWORD), ADMIN_CALLER: (USERNAMES[ADMIN], PASSWORD)}
            )
            started = time.perf_counter()
            for read in reads(scale, targets):
                self.routes.add(read.route)
                for caller in read.callers:
                    self.row(read.label, caller).measures[scale.n] = await measure(
                        callers.clients[caller], read, self.repeat
                    )
            print(f"  reads timed in {time.perf_counter() - started:.0f} s", flush=True)
        finally:
            await callers.close()
            await api.stop()
        # With the API stopped: the passes have the machine to themselves, as the reads had.
        sweepers = Sweepers.open(worker_settings(self.place.database, self.place.redis))
        try:
            for name, function in crons():
                timed = await sweepers.time_pass(name, function, self.repeat)
                self.row(f"pass of {name}", "worker", sized=False).measures[scale.n] = _as_measure(timed.seconds)
                print(f"  {name}: {timed.seconds * 1000:.1f} ms a pass, the last one returned {timed.outcome}")
        finally:
            await sweepers.close()


def _as_measure(seconds: float) -> Measure:
    return Measure(seconds, 0, 200)


async def run(sizes: list[int], repeat: int, database: str, redis: str, keep: bool) -> tuple[list[str], int]:
    print(f"growth benchmark: sizes {', '.join(f'{size:,}' for size in sizes)}, median of {repeat} requests")
    print(f"  code: {revision()}; database {database}, Redis {redis}", flush=True)
    skip_sniffio_lookups()
    await take_redis_db(redis)
    password_hash = hash_password(PASSWORD)
    try:
        async with growth_database(database, keep=keep) as url:
            place = Place(url, redis)
            with tempfile.TemporaryDirectory(prefix="bench-growth-") as directory:
                bench = Run(place, repeat, Path(directory))
                connection = await asyncpg.connect(plain(url))
                try:
                    before: Scale | None = None
                    for size in sizes:
                        scale = Scale(size)
                        started = time.perf_counter()
                        await grow(connection, before, scale, password_hash)
                        print(f"size {size:,}: seeded in {time.perf_counter() - started:.0f} s", flush=True)
                        await bench.size(connection, scale)
                        before = scale
                finally:
                    await connection.close()
    finally:
        await release_redis_db(redis)
    lines, findings = report(list(bench.rows.values()), sizes)
    missing = uncovered(bench.routes)
    lines.append("")
    lines.append("GET routes neither timed nor excluded: " + (", ".join(missing) if missing else "none"))
    return lines, findings + len(missing)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.growth", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=parse_sizes, default=parse_sizes(DEFAULT_SIZES), help=DEFAULT_SIZES)
    parser.add_argument("--repeat", type=int, default=7, help="requests (and passes) per median (default 7)")
    parser.add_argument("--database", default=DEFAULT_DATABASE, help="its database, dropped and recreated")
    parser.add_argument("--redis-db", type=int, default=DEFAULT_REDIS_DB, help="its Redis db index (empty or its own)")
    parser.add_argument("--redis-url", help="the Redis server (default: REDIS_URL's); --redis-db picks the index")
    parser.add_argument("--keep", action="store_true", help="keep the database at the end")
    parser.add_argument("--check", action="store_true", help="exit 1 if any ratio is over its goal")
    args = parser.parse_args(argv)
    lines, problems = asyncio.run(
        run(args.sizes, args.repeat, args.database, redis_url(args.redis_db, args.redis_url), args.keep)
    )
    print("\n".join(lines))
    return 1 if args.check and problems else 0


if __name__ == "__main__":
    sys.exit(main())
