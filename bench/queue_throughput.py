"""Queue throughput: small database jobs through arq, with arq's default poll settings vs
the ones services/worker/main.py sets for the short queue, in one run.

    .venv/bin/python -m bench.queue_throughput [JOBS]      (default 2,000 per round)
    .venv/bin/python -m bench.queue_throughput --history [JOBS]

`--history` instead runs the short queue's settings with the worker's job hooks and ops telemetry,
job history recording (shared.ops.recorder) off and on, interleaved, and prints on / off.

Each round enqueues JOBS jobs, then runs a real arq Worker in burst mode until the queue is
empty; jobs/s = JOBS / that time. Each job is one transaction through the worker's own
`transaction(ctx)` inserting one row. The two settings alternate, twice, and each keeps its
best round (the first round pays for warming connections). Redis is a private redis-server
on a free port; PostgreSQL is bench/common.py's scratch database.
"""

import argparse
import asyncio
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from typing import Any

from arq import ArqRedis
from arq.worker import Worker, func
from redis.exceptions import RedisError
from sqlalchemy import text

from bench.common import free_port, scratch_database
from services.worker import telemetry
from services.worker.context import after_job_end, on_job_start
from services.worker.main import WorkerSettings
from shared.db import create_engine, create_session_factory
from shared.jobs.context import Ctx, transaction
from shared.jobs.queues import Queue, create_job_pool
from shared.jobs.serialization import deserialize, serialize
from shared.ops.recorder import HistoryRecorder
from shared.ops.telemetry import WorkerTelemetry
from shared.settings import get_settings

ROUNDS = 2
ARQ_DEFAULT_MAX_JOBS = 10
ARQ_DEFAULT_POLL_DELAY = 0.5


@dataclass(frozen=True)
class PollSettings:
    label: str
    max_jobs: int
    poll_delay: float


async def insert_one_row(ctx: Ctx, name: str) -> None:
    """A small job: one transaction, one INSERT."""
    async with transaction(ctx) as session:
        await session.exec(text("INSERT INTO team (name) VALUES (:name)").bindparams(name=name))  # type: ignore[call-overload]


async def start_redis(directory: str) -> tuple[asyncio.subprocess.Process, str]:
    server = shutil.which("redis-server")
    if server is None:
        raise SystemExit("redis-server is not installed")
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        *(server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", directory),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    probe = create_job_pool(url)
    try:
        for _ in range(100):
            try:
                await probe.ping()
                return process, url
            except (RedisError, OSError):  # not listening yet
                await asyncio.sleep(0.05)
    finally:
        await probe.aclose()
    process.kill()
    await process.wait()
    raise SystemExit("redis-server did not start")


async def one_round(
    pool: ArqRedis, ctx: dict[str, Any], poll: PollSettings, jobs: int, round_no: int, *, hooks: bool = False
) -> float:
    """Enqueue `jobs` jobs, then drain them with a burst worker; jobs per second."""
    await pool.flushdb()
    for n in range(jobs):
        await pool.enqueue_job("insert_one_row", f"{poll.label} {round_no} {n}", _queue_name=Queue.short)
    worker = Worker(
        functions=[func(insert_one_row, name="insert_one_row")],
        queue_name=Queue.short,
        redis_pool=pool,
        burst=True,
        max_jobs=poll.max_jobs,
        poll_delay=poll.poll_delay,
        handle_signals=False,
        job_serializer=serialize,
        job_deserializer=deserialize,
        on_job_start=on_job_start,
        after_job_end=after_job_end if hooks else None,
        ctx=dict(ctx),
        log_results=False,
    )
    if hooks:  # the production worker's telemetry (services/worker/context.py starts it)
        worker.ctx[telemetry.TELEMETRY] = WorkerTelemetry(name="bench:1", queue=Queue.short)
        worker.ctx["redis"] = pool
    start = time.perf_counter()
    await worker.main()
    seconds = time.perf_counter() - start
    if worker.jobs_complete != jobs:
        raise SystemExit(f"{poll.label}: {worker.jobs_complete} of {jobs} jobs completed ({worker.jobs_failed} failed)")
    rate = jobs / seconds
    print(f"  round {round_no} {poll.label:<48} {jobs:,} jobs in {seconds:6.2f} s = {rate:7.0f} jobs/s")
    return rate


async def run(jobs: int) -> None:
    candidates = [
        PollSettings(
            f"arq defaults (max_jobs={ARQ_DEFAULT_MAX_JOBS}, poll_delay={ARQ_DEFAULT_POLL_DELAY})",
            ARQ_DEFAULT_MAX_JOBS,
            ARQ_DEFAULT_POLL_DELAY,
        ),
        PollSettings(
            f"WorkerSettings (max_jobs={WorkerSettings.max_jobs}, poll_delay={WorkerSettings.poll_delay})",
            WorkerSettings.max_jobs,
            WorkerSettings.poll_delay,
        ),
    ]
    settings = get_settings()
    with tempfile.TemporaryDirectory(prefix="bench-redis-") as directory:
        redis_process, redis_url = await start_redis(directory)
        pool = create_job_pool(redis_url)
        try:
            async with scratch_database() as scratch:
                # The worker's own engine (pool size, pre-ping), as services/worker/context.py opens it.
                scratch_url = scratch.url.render_as_string(hide_password=False)
                engine = create_engine(settings.model_copy(update={"database_url": scratch_url}))
                ctx = {"settings": settings, "session_factory": create_session_factory(engine)}
                print(f"queue throughput: {jobs:,} small DB jobs per round, {os.cpu_count()} CPUs")
                best: dict[str, float] = {}
                try:
                    for round_no in range(1, ROUNDS + 1):
                        for poll in candidates:
                            rate = await one_round(pool, ctx, poll, jobs, round_no)
                            best[poll.label] = max(best.get(poll.label, 0.0), rate)
                finally:
                    await engine.dispose()
        finally:
            await pool.aclose()
            redis_process.terminate()
            await redis_process.wait()
    defaults, tuned = (best[poll.label] for poll in candidates)
    for poll in candidates:
        print(f"best {poll.label:<53} {best[poll.label]:7.0f} jobs/s")
    print(f"ratio WorkerSettings / arq defaults: {tuned / defaults:.1f}x")


async def run_history(jobs: int, rounds: int = 3) -> None:
    """The short queue's settings and hooks, job history off and on, interleaved; each keeps its best."""
    settings = get_settings()
    poll = PollSettings("WorkerSettings", WorkerSettings.max_jobs, WorkerSettings.poll_delay)
    with tempfile.TemporaryDirectory(prefix="bench-redis-") as directory:
        redis_process, redis_url = await start_redis(directory)
        pool = create_job_pool(redis_url)
        try:
            async with scratch_database() as scratch:
                scratch_url = scratch.url.render_as_string(hide_password=False)
                engine = create_engine(settings.model_copy(update={"database_url": scratch_url}))
                factory = create_session_factory(engine)
                print(
                    f"queue throughput, job history off vs on: {jobs:,} small DB jobs per round, {os.cpu_count()} CPUs"
                )
                best = {"off": 0.0, "on": 0.0}
                try:
                    for round_no in range(1, rounds + 1):
                        for label in ("off", "on"):
                            ctx: dict[str, Any] = {"settings": settings, "session_factory": factory}
                            recorder = HistoryRecorder(factory) if label == "on" else None
                            if recorder is not None:
                                ctx[telemetry.HISTORY] = recorder
                            named = PollSettings(f"history {label}", poll.max_jobs, poll.poll_delay)
                            rate = await one_round(pool, ctx, named, jobs, round_no, hooks=True)
                            if recorder is not None:
                                await recorder.close()  # inside neither round's time: the rows were written meanwhile
                                assert recorder.written >= jobs, recorder.written
                            best[label] = max(best[label], rate)
                finally:
                    await engine.dispose()
        finally:
            await pool.aclose()
            redis_process.terminate()
            await redis_process.wait()
    print(f"best history off {best['off']:7.0f} jobs/s, on {best['on']:7.0f} jobs/s")
    print(f"ratio history on / off: {best['on'] / best['off']:.2f}x")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.queue_throughput",
        description="Small database jobs through arq: arq's default poll settings vs the short queue's WorkerSettings.",
    )
    parser.add_argument("jobs", nargs="?", type=int, default=2_000, help="jobs per round (default 2,000)")
    parser.add_argument("--history", action="store_true", help="job history recording off vs on (same settings)")
    arguments = parser.parse_args(argv)
    asyncio.run(run_history(arguments.jobs) if arguments.history else run(arguments.jobs))


if __name__ == "__main__":
    main()
