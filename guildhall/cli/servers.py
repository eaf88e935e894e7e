"""`guildhall servers run|stop|status`: a command with its PostgreSQL and Redis (embedded ones when
none is configured or answers), and what runs."""

import argparse
import os
import sys


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
