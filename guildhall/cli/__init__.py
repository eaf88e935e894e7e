"""The `guildhall` command: one subcommand per operational task.

To add a subcommand, write a `cmd_<name>(args) -> int` function and register it in
`build_parser()`. A subcommand that cannot reach PostgreSQL or Redis raises
ServiceUnreachable; main() prints its one line to stderr and exits 2.
"""

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

# Only what every call needs is imported here: `guildhall --help` and the quick commands (check,
# create-db, worker --check, servers status) start in a fraction of the time the whole stack takes to
# import (SQLAlchemy's ORM and the models, Alembic, FastAPI, arq's worker, pydantic's e-mail type).
# Each command imports what it uses; tests/test_cli_startup.py holds that `import guildhall.cli` stays light.
if TYPE_CHECKING:
    from guildhall.demo import DemoSummary
    from shared.ops.schemas import OpsSummary
    from shared.redis_connect import RedisTarget
    from shared.users.schemas import UserCreate

EXIT_UNREACHABLE = 2
# A command stopped by Ctrl-C exits as shells report a process ended by SIGINT: 128 + 2.
EXIT_INTERRUPTED = 130
# The role names of shared.models.users.Role, spelled out so that building the parser (and --help) does
# not import the models; tests/test_cli_startup.py holds the two equal.
ROLES = ("author", "moderator", "admin")


async def _check_services(database_url: str, redis: "RedisTarget") -> None:
    from guildhall.bootstrap import check_postgres, check_redis

    await check_postgres(database_url)
    await check_redis(redis)


def cmd_check(args: argparse.Namespace) -> int:
    import asyncio

    from shared.redis_connect import RedisTarget
    from shared.settings import get_settings
    from shared.urls import redact

    settings = get_settings()
    redis = RedisTarget.from_settings(settings)
    asyncio.run(_check_services(settings.direct_database_url, redis))
    print(f"PostgreSQL ok at {redact(settings.direct_database_url)}; Redis ok at {redis.describe()}")
    return 0


def cmd_create_db(args: argparse.Namespace) -> int:
    import asyncio

    from sqlalchemy.engine import make_url

    from guildhall.bootstrap import ensure_database
    from shared.settings import get_settings

    url = get_settings().direct_database_url
    # ensure_database connects to the server first and raises ServiceUnreachable, so it is the check.
    created = asyncio.run(ensure_database(url))
    name = make_url(url).database
    print(f"created database {name}" if created else f"database {name} already exists")
    return 0


def alembic_ini() -> Path:
    # The repo root for an editable install; the working directory for an installed package
    # (the Docker image runs from /app, where alembic.ini and migrations/ are copied).
    for directory in (Path(__file__).resolve().parents[2], Path.cwd()):
        if (directory / "alembic.ini").is_file():
            return directory / "alembic.ini"
    raise SystemExit("alembic.ini not found: run guildhall migrate from the repository root")


def cmd_migrate(args: argparse.Namespace) -> int:
    from alembic import command
    from alembic.config import Config

    cmd_create_db(args)
    # Outside any event loop: migrations/env.py calls asyncio.run itself.
    command.upgrade(Config(str(alembic_ini())), "head")
    return 0


def read_password() -> str:
    """Prompted twice on a terminal; otherwise the first line of standard input (for scripts)."""
    if sys.stdin.isatty():
        import getpass

        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != password:
            raise SystemExit("guildhall create-user: the passwords differ")
        return password
    return sys.stdin.readline().rstrip("\n")


async def _create_user(data: "UserCreate") -> int:
    from shared.db import create_engine, create_session_factory, unit_of_work
    from shared.users.service import create_user

    engine = create_engine()
    try:
        async with unit_of_work(create_session_factory(engine)) as session:
            user = await create_user(session, data)
        assert user.id is not None
        return user.id
    finally:
        await engine.dispose()


def cmd_create_user(args: argparse.Namespace) -> int:
    import asyncio

    from pydantic import ValidationError

    from shared.errors import DomainError
    from shared.users.schemas import UserCreate

    try:
        data = UserCreate(username=args.username, email=args.email, password=read_password(), role=args.role)
    except ValidationError as error:
        for problem in error.errors():
            print(f"guildhall create-user: {'.'.join(map(str, problem['loc']))}: {problem['msg']}", file=sys.stderr)
        return 1
    try:
        user_id = asyncio.run(_create_user(data))
    except DomainError as error:
        print(f"guildhall create-user: {error.message}", file=sys.stderr)
        return 1
    print(f"created {data.role} {data.username} (id {user_id}); log in at POST /api/v1/auth/token")
    return 0


async def _seed_demo() -> "DemoSummary":
    from guildhall.demo import seed_demo
    from shared.db import create_engine, create_session_factory, unit_of_work

    engine = create_engine()
    try:
        async with unit_of_work(create_session_factory(engine)) as session:
            return await seed_demo(session)
    finally:
        await engine.dispose()


def cmd_seed_demo(args: argparse.Namespace) -> int:
    """Demo data, with a known admin password: refused (exit 1, nothing written, before any session
    opens) outside ENVIRONMENT=development."""
    import asyncio

    from guildhall.demo import DEMO_PASSWORD, demo_refusal
    from shared.errors import DomainError
    from shared.settings import get_settings

    refusal = demo_refusal(get_settings().environment)
    if refusal is not None:
        print(f"guildhall seed-demo: {refusal}", file=sys.stderr)
        return 1
    try:
        summary = asyncio.run(_seed_demo())
    except DomainError as error:
        print(f"guildhall seed-demo: {error.message}", file=sys.stderr)
        return 1
    print("demo data: " + ", ".join(f"{count} {name}" for name, count in summary.counts.items()))
    print(f"users (password {DEMO_PASSWORD!r} for each): " + ", ".join(f"{u} ({r})" for u, r in summary.users))
    # The API's address from HOST and PORT, as `make run` and `guildhall api` serve it.
    login = f"curl -s -X POST {get_settings().api_url}/api/v1/auth/token -d username=admin -d password={DEMO_PASSWORD}"
    print(f"log in:  {login}")
    return 0


def cmd_reset_db(args: argparse.Namespace) -> int:
    """Empty a development database (every table but alembic_version, ids from 1): refused outside
    ENVIRONMENT=development, and without --yes, before any connection is made."""
    import asyncio

    import asyncpg

    from guildhall.bootstrap import RESET_LOCK_TIMEOUT_MS, database_env_var, describe_database, reset_database
    from guildhall.demo import reset_refusal
    from shared.settings import get_settings

    settings = get_settings()
    if (refusal := reset_refusal(settings.environment)) is not None:
        print(f"guildhall reset-db: {refusal}", file=sys.stderr)
        return 1
    url = settings.direct_database_url  # TRUNCATE is a server session's work, not a pooler's
    where = f"{describe_database(url)} ({database_env_var(url)})"
    if not args.yes:
        print(
            f"guildhall reset-db: this empties every table of {where}; add --yes to do it; nothing was emptied",
            file=sys.stderr,
        )
        return 1
    try:
        tables = asyncio.run(reset_database(url))
    except asyncpg.LockNotAvailableError:
        print(
            f"guildhall reset-db: another session kept a lock on a table of {where} for"
            f" {RESET_LOCK_TIMEOUT_MS / 1000:g} s (an API request, a job or a psql in a transaction):"
            " stop it and run reset-db again; nothing was emptied",
            file=sys.stderr,
        )
        return 1
    if not tables:
        print(f"{where} has no tables to empty (not migrated: guildhall migrate)")
        return 0
    # Redis is not the database's: queued jobs, worker heartbeats and rate-limit counters stay there.
    print(
        f"emptied {len(tables)} tables of {where}; ids restart at 1; the migrations stay applied."
        " Redis was left as it is (queued jobs, rate-limit counters)"
    )
    return 0


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
    from arq.worker import get_kwargs

    from services.worker.main import BulkWorkerSettings, WorkerSettings
    from services.worker.resilient import ResilientWorker
    from shared.jobs.queues import create_worker_pool
    from shared.redis_connect import RedisTarget
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
    settings_class = WorkerSettings if args.queue == "short" else BulkWorkerSettings
    pool = create_worker_pool(RedisTarget.from_settings(get_settings()))
    # arq's run_worker, with the resilient loop and a client with a socket timeout.
    options = {**get_kwargs(settings_class), "redis_pool": pool, "lease_seconds": get_settings().job_lease_seconds}
    ResilientWorker(**options).run()
    return 0


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


def cmd_servers(args: argparse.Namespace) -> int:
    """run: CMD with its servers (embedded ones started and stopped around it when none is
    configured or answers); stop: stop embedded servers left running; status: say what runs."""
    from guildhall.embedded import EmbeddedError, EmbeddedServers, choose_servers
    from guildhall.embedded.servers import status_lines
    from shared.settings import Settings

    if args.action == "run":
        from guildhall.embedded.supervise import run_with_servers

        command = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
        if not command:
            print("guildhall servers run: name a command: guildhall servers run -- guildhall migrate", file=sys.stderr)
            return 1
        return run_with_servers(command)
    servers = EmbeddedServers.for_tests() if args.tests else EmbeddedServers.for_run()
    if args.action == "stop":
        with servers.locked():
            servers.stop()
        print(f"embedded servers of {servers.directory}: stopped")
        return 0
    # The test harness's pair is used by test runs alone (tests/conftest.py decides): no "in use" there.
    for line in status_lines(servers, os.environ, Settings(), mark_use=not args.tests):
        print(line)
    try:
        choice = choose_servers()
    except EmbeddedError as error:
        print(f"make run would stop: {error}")
    else:
        print(f"make run would use {'embedded servers' if choice.embedded else 'the servers'} ({choice.why})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="guildhall", description="Guildhall operations.")
    commands = parser.add_subparsers(title="commands", dest="command", required=True, metavar="COMMAND")
    check = commands.add_parser("check", help="check that PostgreSQL and Redis are reachable")
    check.set_defaults(handler=cmd_check)
    create_db = commands.add_parser("create-db", help="create the database named in DATABASE_URL if missing")
    create_db.set_defaults(handler=cmd_create_db)
    migrate = commands.add_parser("migrate", help="create-db, then apply every Alembic migration")
    migrate.set_defaults(handler=cmd_migrate)
    create_user_cmd = commands.add_parser(
        "create-user", help="create a user (the first admin, say); password prompted or read from stdin"
    )
    create_user_cmd.add_argument("username")
    create_user_cmd.add_argument("email")
    create_user_cmd.add_argument("--role", choices=ROLES, default="author")
    create_user_cmd.set_defaults(handler=cmd_create_user)
    seed = commands.add_parser(
        "seed-demo", help="add a small demo data set to a database without content (users of its own are fine)"
    )
    seed.set_defaults(handler=cmd_seed_demo)
    reset = commands.add_parser(
        "reset-db", help="development only: empty every table (ids from 1), keeping the migrations; needs --yes"
    )
    reset.add_argument("--yes", action="store_true", help="do it (without: say which database it would empty)")
    reset.set_defaults(handler=cmd_reset_db)
    api = commands.add_parser("api", help="serve the API (WEB_CONCURRENCY processes, default one per CPU)")
    api.add_argument("--host", help="the address to listen on (default: HOST, else 127.0.0.1)")
    api.add_argument("--port", type=int, help="the port (default: PORT, else 8000)")
    api.set_defaults(handler=cmd_api)
    worker = commands.add_parser("worker", help="run a job worker (one per queue: short and bulk)")
    worker.add_argument("--queue", choices=["short", "bulk"], default="short")
    worker.add_argument("--check", action="store_true", help="health check: is a worker of this queue up here?")
    worker.set_defaults(handler=cmd_worker)
    queue = commands.add_parser("queue", help="show the job queues: depth, latency, running, failed, workers")
    queue.add_argument("--watch", action="store_true", help="redraw every --interval seconds until Ctrl-C")
    queue.add_argument("--interval", type=float, default=2.0, help="seconds between redraws with --watch")
    queue.add_argument("--json", action="store_true", help="print the summary as JSON (one line per refresh)")
    queue.set_defaults(handler=cmd_queue)
    servers = commands.add_parser(
        "servers", help="run a command with its PostgreSQL and Redis (embedded ones when none is configured)"
    )
    actions = servers.add_subparsers(dest="action", required=True, metavar="ACTION")
    run = actions.add_parser(
        "run", help="run a command with DATABASE_URL and REDIS_URL set: guildhall servers run -- CMD"
    )
    run.add_argument("argv", nargs=argparse.REMAINDER, help="the command, after --")
    for name, text in (("stop", "stop embedded servers left running"), ("status", "say which servers run")):
        action = actions.add_parser(name, help=text)
        action.add_argument("--tests", action="store_true", help="the test harness's embedded servers")
    servers.set_defaults(handler=cmd_servers)
    return parser


def use_running_embedded_servers() -> None:
    """With no URL set, the embedded servers `make run` started for this checkout, while they run:
    `guildhall create-user` in a second terminal finds them."""
    from guildhall.embedded import EmbeddedError, EmbeddedServers
    from guildhall.embedded.servers import commands_use_embedded, configured
    from shared.settings import Settings, get_settings

    mode = os.environ.get("GUILDHALL_EMBEDDED", "").strip().lower()
    settings = Settings()
    if mode in ("0", "false", "no") or configured(settings):
        return
    servers = EmbeddedServers.for_run()
    if commands_use_embedded(servers, os.environ, settings):  # what `servers status` calls "in use"
        os.environ["DATABASE_URL"] = servers.database_url()
        os.environ["REDIS_URL"] = servers.redis_url()
        get_settings.cache_clear()
    elif mode in ("1", "true", "yes"):  # never fall back to the defaults' servers when told not to
        raise EmbeddedError(
            f"GUILDHALL_EMBEDDED=1 and the embedded servers of {servers.directory} are not running:"
            " start them with `make run` (or unset GUILDHALL_EMBEDDED)"
        )


# What each command needs before it starts: (Redis too, the migrated schema). Commands not named
# here check what they need themselves (check, create-db, migrate) or need nothing (servers).
PREFLIGHT: dict[str, tuple[bool, bool]] = {
    "create-user": (False, True),
    "seed-demo": (False, True),
    "api": (True, True),
    "worker": (True, True),
    "queue": (True, True),
}


def run_preflight(args: argparse.Namespace) -> None:
    if args.command not in PREFLIGHT or getattr(args, "check", False):  # worker --check reads Redis only
        return
    import asyncio

    from guildhall.cli.errors import preflight
    from shared.redis_connect import RedisTarget
    from shared.settings import get_settings

    needs_redis, needs_schema = PREFLIGHT[args.command]
    settings = get_settings()
    redis = RedisTarget.from_settings(settings) if needs_redis else None
    # The direct URL: a pooler may not expose what the checks read (and they need no pooling).
    ini = alembic_ini() if needs_schema else None
    warning = asyncio.run(preflight(settings.direct_database_url, redis, ini))
    if warning:
        print(f"guildhall {args.command}: {warning}", file=sys.stderr)


def _unreachable_hint() -> str:
    from pydantic import ValidationError

    from guildhall.embedded.servers import configured
    from shared.settings import Settings

    try:
        if configured(Settings()):
            return ""
    except ValidationError:
        return ""
    return "; with no DATABASE_URL or REDIS_URL set, `make run` starts servers of its own"


def report(command: str, exc: Exception) -> int | None:
    """The one line main() prints for an error a person can act on, and the exit code; None for
    any other error (a bug: its traceback is what is useful). The error classes are imported here,
    once something went wrong, so that a command imports only what it uses."""
    from pydantic import ValidationError

    from guildhall.bootstrap import ServiceUnreachable
    from guildhall.embedded import EmbeddedError

    doing = "cannot read the queues: " if command == "queue" else ""
    if isinstance(exc, ServiceUnreachable):
        hint = _unreachable_hint() if "not reachable" in str(exc) else ""
        print(f"guildhall {command}: {doing}{exc}{hint}", file=sys.stderr)
        return EXIT_UNREACHABLE
    if isinstance(exc, EmbeddedError):
        print(f"guildhall {command}: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    if isinstance(exc, ValidationError):  # the settings: a person's typo, said as such
        # A validator's own message is a sentence already (shared.settings); pydantic prefixes it.
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        print(f"guildhall {command}: invalid configuration: {problems}", file=sys.stderr)
        return 1
    from guildhall.cli.errors import explain
    from shared.settings import get_settings

    settings = get_settings()
    message = explain(exc, settings.database_url, settings.redis_url)
    if message is None:
        return None
    print(f"guildhall {command}: {doing}{message}", file=sys.stderr)
    return EXIT_UNREACHABLE


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command != "servers":
            use_running_embedded_servers()
            run_preflight(args)
        return args.handler(args)
    except KeyboardInterrupt:
        # Ctrl-C, in any command: the person asked it to stop, and its traceback says nothing they
        # need (asyncio.run re-raises it once the command's task is cancelled and cleaned up).
        return EXIT_INTERRUPTED
    except Exception as exc:
        code = report(args.command, exc)
        if code is None:
            raise
        return code


if __name__ == "__main__":
    sys.exit(main())
