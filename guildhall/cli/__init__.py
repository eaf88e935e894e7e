"""The `guildhall` command: one subcommand per operational task.

To add a subcommand, write a `cmd_<name>(args) -> int` function in the module of its group
(database, users, processes, queues, servers) and register it in `build_parser()`. A subcommand
that cannot reach PostgreSQL or Redis raises ServiceUnreachable; main() prints its one line to
stderr and exits 2 (guildhall.cli.startup: what runs around every command).
"""

import argparse
from collections.abc import Callable, Sequence

# Only what every call needs is imported at module level, here and in each command's module:
# `guildhall --help` and the quick commands (check, create-db, worker --check, servers status) start in
# a fraction of the time the whole stack takes to import (SQLAlchemy's ORM and the models, Alembic,
# FastAPI, arq's worker, pydantic's e-mail type). Each command imports what it uses;
# tests/test_cli_startup.py holds that `import guildhall.cli` stays light.
from guildhall.cli.database import cmd_check, cmd_create_db, cmd_migrate, cmd_reset_db, cmd_seed_demo
from guildhall.cli.processes import cmd_api, cmd_worker
from guildhall.cli.queues import cmd_queue
from guildhall.cli.servers import cmd_servers
from guildhall.cli.startup import EXIT_INTERRUPTED, report, run_preflight, use_running_embedded_servers
from guildhall.cli.users import ROLES, cmd_create_user


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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command != "servers":
            use_running_embedded_servers()
            run_preflight(args)
        handler: Callable[[argparse.Namespace], int] = args.handler  # set by build_parser, per command
        return handler(args)
    except KeyboardInterrupt:
        # Ctrl-C, in any command: the person asked it to stop, and its traceback says nothing they
        # need (asyncio.run re-raises it once the command's task is cancelled and cleaned up).
        return EXIT_INTERRUPTED
    except Exception as exc:
        code = report(args.command, exc)
        if code is None:
            raise
        return code
