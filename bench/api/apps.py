"""The apps under test and how each is started: the four baselines and Guildhall (one process,
through PgBouncer too, and two processes for the scale check), each with its own connection pool,
one app at a time."""

import os
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from bench.api import pgbouncer, processes
from bench.api.processes import Managed
from services.api.http_limits import PROTOCOL

# Guildhall refuses the development secret outside development; the bench runs it in
# development anyway, but a fixed secret keeps one token valid across its restarts.
BENCH_SECRET = "bench-api-secret-key-not-for-any-deployment-0123456789"
GUILDHALL_TARGET = "services.api.main:app"
GUILDHALL_HTTP = PROTOCOL  # what `guildhall api` serves with: request head size and time bounded
# The short worker's pool: the API's defaults (10 + 10), enough for its 100 jobs per poll.
WORKER_POOL = (10, 10)


@dataclass(frozen=True)
class AppSpec:
    name: str
    target: str  # uvicorn's APP argument
    prefix: str  # where /posts and /heroes/... live
    ready_path: str
    workers: int = 1
    guildhall: bool = False
    transfers: bool = True
    pooler: bool = False  # Guildhall through a PgBouncer of its own (DB_POOLER=transaction), worker included
    reads: bool = False  # serves the read workloads (bench/api/reads.py)


SEED_SYNC = AppSpec("seed-sync", "bench.baselines.seed_sync:app", "", "/healthz")
MINIMAL_ASYNC = AppSpec("minimal-async", "bench.baselines.minimal_async:app", "", "/healthz", reads=True)
FASTAPI_ASYNCPG = AppSpec("fastapi-asyncpg", "bench.baselines.fastapi_asyncpg:app", "", "/healthz", reads=True)
STARLETTE_ASYNCPG = AppSpec("starlette-asyncpg", "bench.baselines.starlette_asyncpg:app", "", "/healthz")
# /readyz: up only once PostgreSQL and Redis answer, which is what the load needs.
GUILDHALL = AppSpec("guildhall", GUILDHALL_TARGET, "/api/v1", "/readyz", guildhall=True, reads=True)
# The same app, pools and workloads, through PgBouncer in transaction mode: what the pooler costs.
GUILDHALL_PGBOUNCER = AppSpec(
    "guildhall pgbouncer", GUILDHALL_TARGET, "/api/v1", "/readyz", guildhall=True, pooler=True
)
# The scale check measures posts only (no worker needed), with two uvicorn worker processes.
GUILDHALL_X2 = AppSpec(
    "guildhall x2", GUILDHALL_TARGET, "/api/v1", "/readyz", workers=2, guildhall=True, transfers=False
)

# Guildhall direct and through PgBouncer run back to back: their ratio is the one that matters
# to them, and the machine drifts least between neighbours.
APPS = (SEED_SYNC, MINIMAL_ASYNC, FASTAPI_ASYNCPG, STARLETTE_ASYNCPG, GUILDHALL, GUILDHALL_PGBOUNCER, GUILDHALL_X2)


@dataclass(frozen=True)
class Environment:
    """What every start needs: where the database and Redis are, the seeded author, the pools."""

    database_url: str  # plain postgresql://...
    redis_url: str
    author_id: int
    pool_size: int
    max_overflow: int
    log_dir: Path

    def pool_for(self, spec: AppSpec) -> tuple[int, int]:
        # Two processes share the connection budget (PostgreSQL allows 100 and the server is
        # shared): each gets 3/4 of the pool and half the overflow, 40 in all by default.
        if spec.workers > 1:
            return max(5, self.pool_size * 3 // 4), self.max_overflow // 2
        return self.pool_size, self.max_overflow

    def guildhall_env(self, pool: tuple[int, int], pooler_url: str | None = None) -> dict[str, str]:
        """Direct, or through the pooler at `pooler_url` (migrations and checks still direct).
        Neither inherits the shell's DB_POOLER, DATABASE_DIRECT_URL or DATABASE_READ_URL: direct
        must be direct, and the scratch database exists on this server only."""
        excluded = ("METRICS_", "DB_ECHO", "DB_POOLER", "DATABASE_")
        env = {k: v for k, v in os.environ.items() if not k.startswith(excluded)}
        direct = self.database_url.replace("postgresql://", "postgresql+asyncpg://", 1)
        if pooler_url is not None:
            env.update(DB_POOLER="transaction", DATABASE_URL=pooler_url, DATABASE_DIRECT_URL=direct)
        else:
            env.update(DATABASE_URL=direct)
        env.update(
            REDIS_URL=self.redis_url,
            ENVIRONMENT="development",
            SECRET_KEY=BENCH_SECRET,
            ACCESS_TOKEN_MINUTES="600",
            # One admin drives hundreds of writes a second: per-user write limits off (README, Security).
            WRITE_LIMITS="{}",
            # The same budget of connections as the baselines, in Guildhall's own form (its
            # defaults, shared.settings): all kept open, no overflow (which churns under load).
            DB_POOL_SIZE=str(pool[0] + pool[1]),
            DB_MAX_OVERFLOW="0",
        )
        return env

    def baseline_env(self, pool: tuple[int, int]) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            BENCH_BASELINE_DATABASE_URL=self.database_url,
            BENCH_BASELINE_AUTHOR_ID=str(self.author_id),
            BENCH_BASELINE_POOL_SIZE=str(pool[0]),
            BENCH_BASELINE_MAX_OVERFLOW=str(pool[1]),
        )
        return env


@dataclass(frozen=True)
class Running:
    spec: AppSpec
    base_url: str  # http://127.0.0.1:<port>
    processes: tuple[Managed, ...]

    def url(self, path: str) -> str:
        return f"{self.base_url}{self.spec.prefix}{path}"

    def check_alive(self) -> None:
        """A process that died under load (the worker, say) must stop the run, not skew it."""
        for managed in self.processes:
            if managed.process.returncode is not None:
                raise SystemExit(f"{managed.name} exited with {managed.process.returncode}:\n{managed.tail()}")


def max_client_conn(spec: AppSpec, pool: tuple[int, int]) -> int:
    # Every client connection the API's and the worker's pools may open, twice over: a client
    # past the limit is refused, and the bench would measure that limit instead of the pooler.
    return 2 * (spec.workers * sum(pool) + sum(WORKER_POOL))


@asynccontextmanager
async def running(spec: AppSpec, env: Environment, *, with_worker: bool = False) -> AsyncIterator[Running]:
    """The app (and Guildhall's short-queue worker if asked, and its PgBouncer if it has one),
    ready to serve; stopped after, the PgBouncer last."""
    port = processes.free_port()
    pool = env.pool_for(spec)
    started: list[Managed] = []
    async with AsyncExitStack() as stack:
        pooler_url = None
        watched: tuple[Managed, ...] = ()  # PgBouncer dying under load must stop the run too
        if spec.pooler:
            bouncer, pooled = await stack.enter_async_context(
                pgbouncer.running(make_url(env.database_url), max_client_conn(spec, pool), env.log_dir)
            )
            pooler_url = pooled.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
            watched = (bouncer,)
        app_env = env.guildhall_env(pool, pooler_url) if spec.guildhall else env.baseline_env(pool)
        try:
            if with_worker:
                worker_argv = [str(Path(sys.executable).with_name("guildhall")), "worker", "--queue", "short"]
                worker_env = env.guildhall_env(WORKER_POOL, pooler_url)
                started.append(await processes.start("worker", worker_argv, worker_env, env.log_dir))
            app = await processes.start(
                spec.name,
                processes.uvicorn_argv(spec.target, port, spec.workers, GUILDHALL_HTTP if spec.guildhall else "auto"),
                app_env,
                env.log_dir,
            )
            started.append(app)
            base_url = f"http://127.0.0.1:{port}"
            await processes.wait_ready(app, base_url + spec.ready_path)
            yield Running(spec, base_url, (*watched, *started))
        finally:
            for managed in reversed(started):
                await managed.stop()
