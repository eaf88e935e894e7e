"""The benchmark's order of work: set up, interleaved rounds over every app, Guildhall's extra
measurements, the report. See bench/api/__init__.py for what is measured and why."""

import asyncio
import platform
import signal
import sys
import tempfile
from dataclasses import dataclass, replace
from importlib.metadata import version
from pathlib import Path

import asyncpg
import httpx

from bench.api import audit, nested, pgbouncer, reads
from bench.api.apps import (
    APPS,
    GUILDHALL,
    GUILDHALL_PGBOUNCER,
    GUILDHALL_X2,
    WORKER_POOL,
    AppSpec,
    Environment,
    Running,
    max_client_conn,
    running,
)
from bench.api.client import skip_sniffio_lookups
from bench.api.load import LoadResult, posts_script, require_wrk, run_wrk, transfers_script, wrk_version
from bench.api.options import Options, parse_args
from bench.api.processes import start_redis
from bench.api.report import (
    NAME_WIDTH,
    AppRuns,
    audit_lines,
    goals,
    machine_lines,
    nested_lines,
    pooler_lines,
    read_lines,
    reads_table,
    table,
)
from bench.api.seed import (
    ADMIN_NAME,
    ADMIN_PASSWORD,
    READ_AUTHORS,
    READ_CATEGORIES,
    Seeded,
    create_admin,
    reset_posts,
    reset_reads,
    reset_transfers,
    seed,
    wait_for_outbox,
)
from bench.common import scratch_database
from shared.heroes.team_document import MAX_HEROES

# How long the short worker may take to catch up with a transfer run's audits before the
# next run starts (so it never competes with the next app for the CPU).
DRAIN_TIMEOUT = 120.0


@dataclass
class Bench:
    options: Options
    env: Environment
    connection: asyncpg.Connection
    seeded: Seeded
    work_dir: Path
    token: str | None = None

    async def token_for(self, app: Running) -> str:
        """Guildhall's bearer token, through its own login form (once: it outlives restarts)."""
        if self.token is None:
            async with httpx.AsyncClient() as client:
                form = {"username": ADMIN_NAME, "password": ADMIN_PASSWORD}
                response = await client.post(app.url("/auth/token"), data=form)
                response.raise_for_status()
                self.token = str(response.json()["access_token"])
        return self.token

    def script(self, name: str, text: str) -> Path:
        path = self.work_dir / f"{name}.lua"
        path.write_text(text)
        return path

    async def drain(self, app: Running, report: bool) -> None:
        """Guildhall only: wait for the worker to write the audits of the run that just ended,
        so it never competes with the next run for the CPU; how long it took is worth showing
        (transfers the API commits faster than the worker audits them pile up)."""
        if not app.spec.guildhall:
            return
        left, waited = await wait_for_outbox(self.connection, DRAIN_TIMEOUT)
        if left:
            print(f"      ({left:,} audits still waiting {waited:.0f} s after the run)")
        elif report:
            print(f"      (the worker finished the run's audits {waited:.1f} s after it)")

    async def load(self, app: Running, kind: str, script: Path, url: str, measure: bool) -> LoadResult | None:
        """A warm-up (not kept) or a measured run, each from the same starting state."""
        seconds = self.options.duration if measure else self.options.warmup
        if seconds <= 0:
            return None
        if kind == "posts":
            await reset_posts(self.connection)
        elif kind == "transfers":
            await reset_transfers(self.connection, self.seeded)
        # The reads change nothing: measure_reads wrote their posts once for both.
        result = await run_wrk(url, script, self.options, seconds)
        app.check_alive()
        if measure:
            flag = "   <- FAILED REQUESTS" if result.errors else ""
            print(
                f"  {app.spec.name:<{NAME_WIDTH}} {kind:<9} {result.rps:8.0f} rps   p50 {result.p50_ms:7.1f} ms"
                f"   p99 {result.p99_ms:7.1f} ms   errors {result.errors}"
                f"   cores busy {result.machine_busy:4.0%}{flag}",
                flush=True,
            )
        if kind == "transfers":
            await self.drain(app, report=measure)
        return result

    async def measure_reads(self, app: Running, runs: AppRuns) -> None:
        """Both reads, anonymous, on freshly written read posts (the posts runs empty the table),
        and the app's answers to the sample requests (compared with Guildhall's in the report)."""
        seeded = await reset_reads(self.connection, self.options.read_posts)
        urls = {name: app.url(path) for name, path in reads.sample_paths(seeded).items()}
        runs.reads.samples = await reads.samples(urls)
        name = app.spec.name
        workloads = (
            (reads.READ_ONE, self.script(f"{name}-read-one", reads.read_one_script(app.spec.prefix, seeded)), "/"),
            (reads.READ_PAGE, self.script(f"{name}-read-page", reads.read_page_script()), reads.PAGE_PATH),
        )
        for kind, script, path in workloads:
            url = app.base_url + "/" if path == "/" else app.url(path)
            for measure in (False, True):
                if (result := await self.load(app, kind, script, url, measure)) and measure:
                    runs.reads.runs[kind].append(result)

    async def measure_app(self, spec: AppSpec, runs: AppRuns) -> None:
        async with running(spec, self.env, with_worker=spec.guildhall and spec.transfers) as app:
            if spec.reads:
                await self.measure_reads(app, runs)
            token = await self.token_for(app) if spec.guildhall else None
            posts = self.script(f"{spec.name}-posts", posts_script(token))
            for measure in (False, True):
                if (result := await self.load(app, "posts", posts, app.url("/posts"), measure)) and measure:
                    runs.posts.append(result)
            if not spec.transfers:
                return
            transfers = self.script(
                f"{spec.name}-transfers", transfers_script(token, spec.prefix, self.seeded, self.options.threads)
            )
            for measure in (False, True):
                if (result := await self.load(app, "transfers", transfers, app.base_url + "/", measure)) and measure:
                    runs.transfers.append(result)

    async def extras(self) -> tuple[nested.NestedResult, audit.AuditResult]:
        """Guildhall alone (one API process and the short worker): the nested read, then the audit pipeline."""
        async with running(GUILDHALL, self.env, with_worker=True) as app:
            token = await self.token_for(app)
            team = self.seeded.nested_team
            print(f"  nested read: {self.options.nested_samples} requests and statements, alternating", flush=True)
            async with httpx.AsyncClient(timeout=60.0) as client:
                read = await nested.measure(
                    client,
                    # The whole team in one page (shared.heroes.team_document.MAX_HEROES), as the SQL has it.
                    app.url(f"/teams/{team}?include=heroes,heroes.items&heroes_limit={MAX_HEROES}"),
                    self.connection,
                    team,
                    self.options.nested_samples,
                )
            await reset_transfers(self.connection, self.seeded)
            options = self.options
            print(f"  audit: {options.audit_rate:g} transfers/s for {options.audit_seconds:g} s, open loop", flush=True)
            pipeline = await audit.run(
                app.url(""),
                token,
                self.connection,
                self.seeded,
                options.audit_rate,
                options.audit_seconds,
                options.audit_settle,
            )
            app.check_alive()
        return read, pipeline


async def versions(connection: asyncpg.Connection) -> str:
    server = await connection.fetchval("SHOW server_version")
    packages = ", ".join(
        f"{name} {version(name)}" for name in ("fastapi", "sqlmodel", "sqlalchemy", "asyncpg", "psycopg", "uvicorn")
    )
    return (
        f"Python {platform.python_version()}, PostgreSQL {server}, {await pgbouncer.version()}, "
        f"{await wrk_version()}, {packages}"
    )


def describe(options: Options, env: Environment) -> list[str]:
    o = options
    x2_pool = env.pool_for(GUILDHALL_X2)
    clients = max_client_conn(GUILDHALL_PGBOUNCER, env.pool_for(GUILDHALL_PGBOUNCER))
    return [
        f"load:     wrk -t{o.threads} -c{o.connections} -d{o.duration}s --latency, after a {o.warmup} s warm-up; "
        f"{o.rounds} interleaved round(s), the second reversed; one app process at a time",
        "          per app: best rps and lowest p99 of its rounds; rps counts 2xx only; "
        "errors = wrk's non-2xx/3xx count + socket errors",
        f"pools:    {o.pool_size} + {o.max_overflow} connections per app "
        f"(guildhall x2: {x2_pool[0]} + {x2_pool[1]} per process); short worker {WORKER_POOL[0]} + {WORKER_POOL[1]}",
        f"pooler:   guildhall pgbouncer = guildhall, its API and worker through a PgBouncer of its own "
        f"(pool_mode transaction, default_pool_size {pgbouncer.DEFAULT_POOL_SIZE}, max_client_conn {clients})",
        f"data:     {o.heroes:,} heroes on {o.teams} teams (a transfer: random hero, next team of its rotation); "
        f"nested team of {o.nested_heroes:,} heroes x {o.items_per_hero} items; "
        f"reads: {o.read_posts:,} posts (9 in 10 published) by {READ_AUTHORS} authors in {READ_CATEGORIES} categories",
    ]


async def run(options: Options) -> None:
    require_wrk()
    pgbouncer.require()
    print("Guildhall API benchmark (python -m bench.api" + (" --quick" if options.quick else "") + ")", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-api-") as directory:
        work_dir = Path(directory)
        redis, redis_url = await start_redis(work_dir)
        try:
            async with scratch_database(options.database) as engine:
                url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
                env = Environment(url, redis_url, 0, options.pool_size, options.max_overflow, work_dir)
                await create_admin(env.guildhall_env(WORKER_POOL))
                connection = await asyncpg.connect(url)
                try:
                    seeded = await seed(connection, options)
                    env = replace(env, author_id=seeded.author_id)
                    for line in [*machine_lines(await versions(connection)), *describe(options, env)]:
                        print(line)
                    bench = Bench(options, env, connection, seeded, work_dir)
                    results = {spec.name: AppRuns() for spec in APPS}
                    for round_no in range(1, options.rounds + 1):
                        print(f"\nround {round_no}", flush=True)
                        # Reversed every other round: whatever drifts during a round (the
                        # machine's other load, table growth) does not always favour the same app.
                        for spec in APPS if round_no % 2 else tuple(reversed(APPS)):
                            await bench.measure_app(spec, results[spec.name])
                    print("\nguildhall alone: nested read and audit pipeline", flush=True)
                    read, pipeline = await bench.extras()
                finally:
                    await connection.close()
        finally:
            await redis.stop()
    print("\nresults")
    for line in table(results):
        print(line)
    print()
    for line in reads_table(results):
        print(line)
    print()
    for line in read_lines(results):
        print(line)
    print()
    for line in pooler_lines(results):
        print(line)
    print()
    for line in nested_lines(read, options.nested_samples):
        print(line)
    print()
    for line in audit_lines(pipeline, options.audit_rate, options.audit_settle):
        print(line)
    print()
    print("goals (guildhall against the baselines)")
    for goal in goals(results, read, pipeline, options.audit_settle):
        print(goal.line())
    sys.stdout.flush()


async def run_stoppable(options: Options) -> None:
    """`run`, cancelled by SIGTERM as by Ctrl-C: its cleanup then stops every process it
    started (they run in their own process groups, so no signal reaches them otherwise)."""
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    await run(options)


def main(argv: list[str] | None = None) -> int:
    skip_sniffio_lookups()
    asyncio.run(run_stoppable(parse_args(argv)))
    return 0
