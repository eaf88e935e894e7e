"""`guildhall queue`: the ops summary (depth, latency, running, failed, workers) as terminal tables or
JSON, once or redrawn until Ctrl-C."""

import argparse
from typing import TYPE_CHECKING

from guildhall.cli.startup import EXIT_INTERRUPTED

if TYPE_CHECKING:
    from shared.ops.schemas import OpsSummary


async def _queue_summary() -> "OpsSummary":
    from shared.db import create_engine, create_session_factory
    from shared.jobs.queues import create_job_pool
    from shared.ops.inspect import read_summary
    from shared.ops.queries import add_database_views
    from shared.redis_connect import RedisTarget
    from shared.settings import get_settings

    settings = get_settings()
    pool = create_job_pool(RedisTarget.from_settings(settings))
    engine = create_engine(settings)
    try:
        summary = await read_summary(pool)
        async with create_session_factory(engine)() as session:
            return await add_database_views(summary, session)
    finally:
        await pool.aclose()
        await engine.dispose()


def _draw_summary(summary: "OpsSummary", args: argparse.Namespace) -> None:
    from shared.ops.text import render_summary

    if args.json:
        print(summary.model_dump_json(indent=None if args.watch else 2), flush=True)
        return
    if args.watch:
        print("\x1b[2J\x1b[H", end="")  # clear the terminal, cursor home
    print(render_summary(summary), flush=True)


async def _watch_queues(args: argparse.Namespace) -> None:
    """Redraw every `args.interval` seconds until Ctrl-C, then return.

    Ctrl-C is how --watch ends, so it must not cancel whatever is awaited when it lands (mostly a
    read, or its connections closing: asyncio.run's own handler cancels there, and SQLAlchemy's pool
    then logs a traceback about the connection it could not close). Here the first Ctrl-C only asks
    the loop to stop: the read under way finishes (milliseconds, bounded by the connect and statement
    timeouts) and closes its connections, and nothing more is drawn. A second Ctrl-C is Python's own
    KeyboardInterrupt, at once, for a read stuck on a server that went silent."""
    import asyncio
    import contextlib
    import signal

    loop = asyncio.get_running_loop()
    interrupted = asyncio.Event()

    def on_interrupt() -> None:
        interrupted.set()
        loop.remove_signal_handler(signal.SIGINT)  # restores Python's handler, for a second Ctrl-C

    loop.add_signal_handler(signal.SIGINT, on_interrupt)
    try:
        while not interrupted.is_set():
            summary = await _queue_summary()
            if interrupted.is_set():
                break
            _draw_summary(summary, args)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(interrupted.wait(), args.interval)
    finally:
        loop.remove_signal_handler(signal.SIGINT)


def cmd_queue(args: argparse.Namespace) -> int:
    """The ops summary as terminal tables (or JSON); --watch redraws it until Ctrl-C (exit 130)."""
    import asyncio

    if not args.watch:
        _draw_summary(asyncio.run(_queue_summary()), args)
        return 0
    asyncio.run(_watch_queues(args))
    return EXIT_INTERRUPTED  # the loop ends only on Ctrl-C
