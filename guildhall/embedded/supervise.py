"""`guildhall servers run -- CMD`: run CMD with its PostgreSQL and Redis, embedded if need be.

With the machine's (or configured) servers, this checks them and becomes CMD (exec). With
embedded servers, it starts them, runs CMD with DATABASE_URL and REDIS_URL pointing at them,
and stops them once CMD has exited: the servers are the last to stop.

Signals: Ctrl-C in the terminal reaches CMD directly (same process group); the servers, in
sessions of their own, do not get it. SIGTERM or SIGHUP sent to this process are passed to CMD
once. A second Ctrl-C while stopping does not interrupt the stop.
"""

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from types import FrameType

from guildhall.bootstrap import check_postgres, check_redis
from guildhall.embedded.servers import EmbeddedError, EmbeddedServers, choose_servers
from shared.redis_connect import RedisTarget
from shared.settings import Settings
from shared.urls import redact


def _exit_code(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


async def _check(database_url: str, redis: RedisTarget) -> None:
    await check_postgres(database_url)
    await check_redis(redis)


def run_with_servers(command: Sequence[str]) -> int:
    choice = choose_servers()
    if not choice.embedded:
        # As the commands will reach them: the primary itself (DATABASE_DIRECT_URL, default
        # DATABASE_URL), and the Redis master, through the sentinels if REDIS_SENTINELS is set.
        settings = Settings()
        database_url = (
            settings.direct_database_url if choice.database_url == settings.database_url else choice.database_url
        )
        redis = (
            RedisTarget.from_settings(settings)
            if choice.redis_url == settings.redis_url
            else RedisTarget(choice.redis_url)
        )
        asyncio.run(_check(database_url, redis))
        print(
            f"guildhall: PostgreSQL at {redact(database_url)}, Redis at {redis.describe()} ({choice.why})",
            file=sys.stderr,
            flush=True,
        )
        try:
            os.execvp(command[0], list(command))
        except OSError as error:
            raise EmbeddedError(f"cannot run {command[0]}: {error.strerror}") from None
    servers = EmbeddedServers.for_run()
    with servers.locked():
        try:
            servers.start()
            print(servers.describe(choice.why), file=sys.stderr, flush=True)
            env = {**os.environ, "DATABASE_URL": servers.database_url(), "REDIS_URL": servers.redis_url()}
            env.pop("GUILDHALL_EMBEDDED", None)  # the URLs now say which servers; nothing to force below
            return _run_child(command, env)
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # the stop is bounded: let it finish
            servers.stop()


def _run_child(command: Sequence[str], env: dict[str, str]) -> int:
    try:
        child = subprocess.Popen(list(command), env=env)
    except OSError as error:
        raise EmbeddedError(f"cannot run {command[0]}: {error.strerror}") from None
    forwarded = False

    def forward(signum: int, frame: FrameType | None) -> None:
        nonlocal forwarded
        if not forwarded:
            forwarded = True
            child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGHUP, forward)
    # The terminal's Ctrl-C went to CMD too; CMD decides how to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return _exit_code(child.wait())
