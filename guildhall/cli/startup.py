"""What main() does around every command: the embedded servers `make run` started, when no URL is
set; the preflight checks of a command's servers and schema; and the one line said for an error a
person can act on, with its exit code."""

import argparse
import os
import sys

from guildhall.cli.database import alembic_ini

EXIT_UNREACHABLE = 2
# A command stopped by Ctrl-C exits as shells report a process ended by SIGINT: 128 + 2.
EXIT_INTERRUPTED = 130


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
