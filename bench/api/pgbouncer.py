"""A private PgBouncer in transaction mode in front of the bench's scratch database, for the
`guildhall pgbouncer` app: what the pooler costs Guildhall (README: Production topology).

It is started for that app only and stopped with it, so its server connections never sit
idle on the shared PostgreSQL while the other apps run."""

import asyncio
import os
import pwd
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
from sqlalchemy.engine import URL

from bench.api import processes

# Real server connections to the scratch database: a few per core of the database server, as
# the README's sizing advises (20 serves a 2-core machine with room), far fewer than the 64
# wrk connections or the 50 client connections the API's and worker's pools may open by default.
# Not the pools' sum: multiplexing many client connections over few server ones is what a
# pooler is deployed for.
DEFAULT_POOL_SIZE = 20
# PgBouncer refuses to run as root; as root it drops to this account (Debian's PostgreSQL one).
ACCOUNT = "postgres"
READY_TIMEOUT = 10.0


def binary() -> str:
    # Debian's package puts it in /usr/sbin, which a non-root PATH may lack.
    found = shutil.which("pgbouncer", path=f"{os.environ.get('PATH', '')}:/usr/sbin")
    if found is None:
        raise SystemExit("bench.api needs pgbouncer (Debian: apt-get install -y pgbouncer)")
    return found


def require_account() -> list[str]:
    """pgbouncer's `-u` arguments: none unless root, then the account it runs as."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(ACCOUNT)
    except KeyError:
        raise SystemExit(f"bench.api runs pgbouncer as {ACCOUNT!r} when root (it refuses root): no such user") from None
    return ["-u", ACCOUNT]


def require() -> None:
    """Refuse at once, before any setup, as for a missing wrk."""
    binary()
    require_account()


async def version() -> str:
    process = await asyncio.create_subprocess_exec(
        binary(), "--version", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output = (await process.communicate())[0].decode(errors="replace")
    return output.splitlines()[0] if output else "PgBouncer"


def user_of(server: URL) -> str:
    return server.username or "postgres"


def config(server: URL, port: int, directory: Path, max_client_conn: int) -> str:
    user = user_of(server)
    target = f"host={server.host or '127.0.0.1'} port={server.port or 5432} dbname={server.database}"
    if server.password:
        target += " password='" + server.password.replace("\\", "\\\\").replace("'", "\\'") + "'"
    settings: dict[str, object] = {
        "listen_addr": "127.0.0.1",
        "listen_port": port,
        "unix_socket_dir": "",  # TCP only: no socket file in /tmp to collide with anyone's
        "auth_type": "trust",
        "auth_file": directory / "userlist.txt",
        "pool_mode": "transaction",
        "default_pool_size": DEFAULT_POOL_SIZE,
        "max_client_conn": max_client_conn,
        "server_reset_query": "",  # transaction mode: nothing to reset between clients
        # Empty on purpose: with DB_POOLER=transaction Guildhall sends no startup parameter a
        # pooler refuses, and the bench would hide it if it did.
        "ignore_startup_parameters": "",
    }
    # Only the scratch database: no wildcard, so nothing else on the server is reachable through it.
    (directory / "userlist.txt").write_text(f'"{user}" ""\n')  # trust still needs the user listed
    return "\n".join(
        [
            "[databases]",
            f"{server.database} = {target}",
            "",
            "[pgbouncer]",
            *(f"{key} = {value}" for key, value in settings.items()),
            "",
        ]
    )


def files_directory() -> Path:
    """Where the ini and auth file go: readable by the account pgbouncer runs as (the bench's
    own work directory is root's, 0700)."""
    directory = Path(tempfile.mkdtemp(prefix="bench-api-pgbouncer-"))
    if os.geteuid() == 0:
        shutil.chown(directory, ACCOUNT, ACCOUNT)
    return directory


async def check_login(managed: processes.Managed, url: URL) -> None:
    """One statement through the pooler: a wrong entry or a refused login fails here, with
    pgbouncer's log, rather than as an app that never gets ready."""
    try:
        connection = await asyncpg.connect(
            host=url.host, port=url.port, user=url.username, database=url.database, statement_cache_size=0, timeout=5
        )
        try:
            await connection.fetchval("SELECT 1")
        finally:
            await connection.close()
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        await managed.stop()
        raise SystemExit(f"pgbouncer does not serve {url.database}: {exc}\n{managed.tail()}") from exc


@asynccontextmanager
async def running(server: URL, max_client_conn: int, log_dir: Path) -> AsyncIterator[tuple[processes.Managed, URL]]:
    """PgBouncer listening on a free port, in front of `server`'s database: the process and its
    URL (the same user and database, no password: auth_type trust). Stopped, and its files
    removed, after."""
    port = processes.free_port()
    directory = files_directory()
    try:
        ini = directory / "pgbouncer.ini"
        ini.write_text(config(server, port, directory, max_client_conn))
        if os.geteuid() == 0:
            shutil.chown(directory / "userlist.txt", ACCOUNT, ACCOUNT)
            shutil.chown(ini, ACCOUNT, ACCOUNT)
        # Foreground (no -d): its log goes to stderr, into the log file; SIGTERM (Managed.stop)
        # is its immediate shutdown, closing its server connections.
        argv = [binary(), *require_account(), str(ini)]
        managed = await processes.start("pgbouncer", argv, dict(os.environ), log_dir)
        try:
            await processes.wait_accepting(managed, port, READY_TIMEOUT)
            url = server.set(host="127.0.0.1", port=port, username=user_of(server), password=None)
            await check_login(managed, url)
            yield managed, url
        finally:
            await managed.stop()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
