"""The long-running processes: `guildhall api` (the HTTP door) and `guildhall worker` (one queue's
job worker, or with --check the health check of one)."""

import argparse
import sys


async def _local_worker_is_up(queue: str) -> bool:
    import socket

    from shared.jobs.queues import Queue, create_job_pool
    from shared.ops.inspect import local_worker_is_up
    from shared.redis_connect import RedisTarget
    from shared.settings import get_settings

    pool = create_job_pool(RedisTarget.from_settings(get_settings()))
    try:
        return await local_worker_is_up(pool, Queue[queue], socket.gethostname())
    finally:
        await pool.aclose()


def cmd_worker(args: argparse.Namespace) -> int:
    """Run one queue's arq worker in the foreground (SIGTERM/Ctrl-C let running jobs finish).
    With --check: exit 0 if a worker of that queue on this host has a fresh heartbeat (health check)."""
    import asyncio

    if args.check:
        up = asyncio.run(_local_worker_is_up(args.queue))
        print(f"{args.queue} worker on this host: {'up' if up else 'DOWN'}")
        return 0 if up else 1
    import logging.config

    from arq.logs import default_log_config

    from services.worker.factory import build_worker
    from shared.jobs.queues import Queue
    from shared.settings import get_settings

    level = get_settings().log_level
    config = default_log_config(verbose=level == "DEBUG")
    config["handlers"]["arq.standard"]["level"] = level
    config["loggers"]["arq"]["level"] = level
    # Guildhall's own lines (a sweep that did work, a job refused by its rules) through arq's
    # handler: without a logger of their own they would reach no handler and never be printed.
    for name in ("shared", "services"):
        config["loggers"][name] = {"handlers": ["arq.standard"], "level": level, "propagate": False}
    logging.config.dictConfig(config)
    # The one worker factory (every hook), on a worker client with a socket timeout.
    build_worker(Queue.short if args.queue == "short" else Queue.bulk).run()
    return 0


def cmd_api(args: argparse.Namespace) -> int:
    """Serve the API in the foreground: WEB_CONCURRENCY processes (default: one per CPU) on one
    port, their metrics summed (services.api.serve). SIGTERM/Ctrl-C let running requests finish."""
    import ipaddress

    from services.api.serve import api_processes, serve
    from shared.settings import get_settings

    settings = get_settings()
    host = settings.host if args.host is None else args.host
    port = settings.port if args.port is None else args.port
    # Fail closed: the development secret signs tokens anyone can forge (it is in the source), so it
    # never listens beyond this machine. Other environments refuse it in the settings already.
    # Loopback is 127.0.0.0/8, ::1 or `localhost`; any other name or address (0.0.0.0, "", a hostname)
    # may be reachable from elsewhere.
    try:
        loopback = host.lower() == "localhost" or ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        loopback = False
    if settings.uses_development_secret and not loopback:
        print(
            f"guildhall api: refusing to listen on {host} with the development SECRET_KEY:"
            " set SECRET_KEY (python -c 'import secrets; print(secrets.token_urlsafe(48))') or bind 127.0.0.1",
            file=sys.stderr,
        )
        return 1
    serve(host, port, api_processes())
    return 0
