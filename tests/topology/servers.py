"""Production topology, started by the test itself: PgBouncer in transaction mode, a streaming
PostgreSQL replica, a Redis master/replica pair under three Sentinels, and a TCP proxy whose target
can move. Every server listens on its own free loopback port and keeps its files in a temporary
directory; nothing touches the machine's shared PostgreSQL or Redis.

The servers are the fault tests' (tests/faults/conftest.py: PostgresServer, RedisServer) and the
e2e harness's process wrapper (Service); this module only adds what a topology needs around them.
Everything here is synchronous (subprocesses and short polls): an async test may call it directly,
or through asyncio.to_thread when its own event loop must keep running meanwhile.
"""

import asyncio
import contextlib
import csv
import io
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import redis

from guildhall.embedded.valkey import server_binary as valkey_binary
from tests.e2e.conftest import Service, redis_answers, wait_until
from tests.faults.conftest import PostgresServer, RedisServer, cluster_account, postgres_bin
from tests.support.network import free_port

T = TypeVar("T")
HOST = "127.0.0.1"
TIMEOUT = 30.0


def cluster_directory(prefix: str) -> Path:
    """A temporary directory the cluster account owns. Not pytest's tmp_path: that is private to
    root (0700), and PostgreSQL and PgBouncer refuse to run as root."""
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        shutil.chown(directory, cluster_account(), cluster_account())
    return directory


def accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1):
            return True
    except OSError:
        return False


def psql(port: int, database: str, sql: str) -> list[dict[str, str]]:
    """Run one statement with psql (simple query protocol, which PgBouncer's admin console
    requires); the rows as dicts of their text values."""
    argv = [postgres_bin("psql"), "--csv", "-X", "-q", "-w", "-v", "ON_ERROR_STOP=1"]
    argv += ["-h", HOST, "-p", str(port), "-U", "postgres", "-d", database, "-c", sql]
    env = {**os.environ, "PGCONNECT_TIMEOUT": "5"}
    result = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT, env=env, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"psql on port {port}, database {database}: {sql!r} failed: {result.stderr.strip()}")
    return list(csv.DictReader(io.StringIO(result.stdout)))


def pgbouncer_binary() -> str:
    # Debian's package puts it in /usr/sbin, which a non-root PATH may lack.
    found = shutil.which("pgbouncer", path=f"{os.environ.get('PATH', '')}:/usr/sbin")
    if found is None:
        raise RuntimeError("pgbouncer not found: install the Debian package `pgbouncer`")
    return found


# --- PgBouncer --------------------------------------------------------------------------


@dataclass
class PgBouncer:
    """PgBouncer in transaction mode in front of one PostgreSQL server, with an entry for each of
    `databases` only: no wildcard, so any other database (`postgres` included) is refused.
    `directory` must be writable by the cluster account (cluster_directory())."""

    server_port: int
    databases: tuple[str, ...]
    directory: Path
    server_host: str = HOST
    default_pool_size: int = 4
    max_client_conn: int = 200
    query_wait_timeout: int = 120
    port: int = field(default_factory=free_port)
    service: Service | None = field(default=None, init=False)

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@{HOST}:{self.port}/{database}"

    @property
    def ini(self) -> Path:
        return self.directory / "pgbouncer.ini"

    def write_config(self) -> None:
        databases = [
            f"{name} = host={self.server_host} port={self.server_port} dbname={name}" for name in self.databases
        ]
        settings = {
            "listen_addr": HOST,
            "listen_port": self.port,
            "unix_socket_dir": "",  # TCP only: no socket file in /tmp to collide with anyone's
            "auth_type": "trust",
            "auth_file": self.directory / "userlist.txt",
            "admin_users": "postgres",
            "pool_mode": "transaction",
            "default_pool_size": self.default_pool_size,
            "max_client_conn": self.max_client_conn,
            "query_wait_timeout": self.query_wait_timeout,
            "server_reset_query": "",  # transaction mode: nothing to reset between clients
            # Empty on purpose: a startup parameter PgBouncer does not know fails the login, and the
            # app must send none.
            "ignore_startup_parameters": "",
        }
        lines = ["[databases]", *databases, "", "[pgbouncer]", *(f"{key} = {value}" for key, value in settings.items())]
        self.ini.write_text("\n".join(lines) + "\n")
        # trust still needs the user listed.
        (self.directory / "userlist.txt").write_text('"postgres" ""\n')

    def start(self) -> None:
        self.write_config()
        argv = [pgbouncer_binary()]
        if os.geteuid() == 0:
            argv += ["-u", cluster_account()]  # it refuses root; -u drops to that account after reading the ini
        self.service = Service(
            "pgbouncer",
            [*argv, str(self.ini)],  # foreground: the log goes to stderr, into the service's log file
            dict(os.environ),
            self.directory / "pgbouncer.log",
            ready=lambda _: accepts(self.port),
        )
        self.service.start()

    def stop(self) -> None:
        """SIGTERM: PgBouncer's immediate shutdown (SIGINT would wait for its clients)."""
        if self.service is not None:
            self.service.stop()

    def kill(self) -> None:
        if self.service is not None and self.service.alive():
            self.service.kill9()

    def show(self, what: str) -> list[dict[str, str]]:
        """`SHOW <what>` on the admin console (database `pgbouncer`), e.g. show("POOLS")."""
        return psql(self.port, "pgbouncer", f"SHOW {what}")


# --- PostgreSQL streaming replica -------------------------------------------------------


def ensure_replication_allowed(primary: PostgresServer) -> None:
    """initdb's pg_hba.conf (PostgreSQL 10+) lets 127.0.0.1 replicate under -A trust; add that line
    and reload if this cluster's does not."""
    sql = "SELECT current_setting('wal_level') AS wal_level, current_setting('max_wal_senders') AS senders"
    settings = psql(primary.port, "postgres", sql)[0]
    assert settings["wal_level"] in ("replica", "logical"), f"the primary's wal_level is {settings['wal_level']}"
    assert int(settings["senders"]) > 0, "the primary's max_wal_senders is 0"
    rules = psql(
        primary.port,
        "postgres",
        "SELECT count(*) AS n FROM pg_hba_file_rules WHERE type = 'host' AND 'replication' = ANY(database) "
        "AND address = '127.0.0.1' AND auth_method = 'trust' AND error IS NULL",
    )
    if rules[0]["n"] == "0":
        with (primary.data / "pg_hba.conf").open("a") as hba:
            hba.write("host replication all 127.0.0.1/32 trust\n")
        psql(primary.port, "postgres", "SELECT pg_reload_conf()")


class ReplicaServer(PostgresServer):
    """A PostgreSQL standby: its data directory is a base backup of the primary (not an initdb)."""

    def clone(self, primary: PostgresServer, apply_delay: str | None = None) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.directory, cluster_account(), cluster_account())
        # -R: standby.signal plus primary_conninfo in postgresql.auto.conf; -X stream: the WAL the
        # backup needs comes along, so it starts consistent.
        self._run(
            postgres_bin("pg_basebackup"),
            *("-R", "-X", "stream", "--no-sync", "-h", HOST, "-p", str(primary.port), "-U", "postgres"),
            *("-D", str(self.data)),
        )
        if apply_delay is not None:
            # Appended, as -R appends: the last setting in the file wins. Delays commits only.
            with (self.data / "postgresql.auto.conf").open("a") as auto:
                auto.write(f"recovery_min_apply_delay = '{apply_delay}'\n")


def start_replica(primary: PostgresServer, *, apply_delay: str | None = None) -> ReplicaServer:
    """A streaming replica of `primary` on its own port, started (read-only queries work). The
    caller stops it and removes replica.directory."""
    ensure_replication_allowed(primary)
    replica = ReplicaServer(free_port(), cluster_directory("guildhall-replica-"))
    try:
        replica.clone(primary, apply_delay)
        replica.start()
    except BaseException:
        if replica.running():
            with contextlib.suppress(subprocess.CalledProcessError):
                replica.stop("immediate")
        shutil.rmtree(replica.directory, ignore_errors=True)
        raise
    return replica


def wait_replayed(primary: PostgresServer, replica: PostgresServer, timeout: float = TIMEOUT) -> None:
    """Until the replica has replayed everything the primary had written when this was called."""
    lsn = psql(primary.port, "postgres", "SELECT pg_current_wal_lsn() AS lsn")[0]["lsn"]
    sql = f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn AS done"
    wait_until(
        lambda: psql(replica.port, "postgres", sql)[0]["done"] == "t",
        timeout=timeout,
        interval=0.05,
        what=f"the replica on port {replica.port} to replay up to {lsn}",
    )


# --- Redis under Sentinel ---------------------------------------------------------------


def redis_call(port: int, *args: str | int) -> Any:
    """One command, raw reply (decoded). Several words as separate arguments: redis-py then applies
    no response callback, so replies are Redis's own lists."""
    with redis.Redis(host=HOST, port=port, socket_timeout=5, socket_connect_timeout=2, decode_responses=True) as client:
        return client.execute_command(*args)


def pairs(flat: list[str]) -> dict[str, str]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


def role(port: int) -> str | None:
    """ROLE's first word ("master", "slave"), None when the server does not answer."""
    try:
        return str(redis_call(port, "ROLE")[0])
    except (redis.RedisError, OSError):
        return None


def sentinel_argv(conf: Path) -> list[str]:
    if binary := shutil.which("redis-sentinel"):
        return [binary, str(conf)]
    return [shutil.which("redis-server") or str(valkey_binary()), str(conf), "--sentinel"]


# Sentinel's internal periods (SENTINEL DEBUG, Redis 7+), against down-after-milliseconds 1000:
# - ping-period 200 (default 1000): a sentinel also reconnects a dropped link at most once a ping
#   period, and every failover drops links (the new master's CLIENT KILL TYPE normal); at 1000 a
#   reconnect could take longer than down-after, and a sentinel saw the healthy new master s_down.
# - ask-period 200 (default 1000): another sentinel's "master down" answer counts for 5 ask periods.
#   At 5 s, a sentinel that saw the new master s_down (above) just after a failover counted the
#   others' stale answers about the old master, reached o_down alone and failed over again.
# - info-period and publish-period 1000 (defaults 10 s and 2 s): sentinels find each other and the
#   replica within a second, and a master that comes back (a restarted one, or the one a failover
#   demoted) is made a replica after 4 publish periods (4 s, not 8 s). Not shorter: the leader of a
#   failover polls the promoted replica once a second whatever info-period says, and a sentinel that
#   sees a replica report "master" for 4 publish periods before the leader's new configuration
#   reaches it demotes it again (seen at 100 ms: -failover-abort-slave-timeout).
SENTINEL_DEBUG = ("ping-period", 200, "ask-period", 200, "info-period", 1000, "publish-period", 1000)


class SentinelCluster:
    """A Redis master and one replica watched by three Sentinels (quorum 2) under master name
    `name`. The node that is master changes with failover() and kill_master(); ask
    master_address() or `url` rather than remembering a port."""

    def __init__(self, directory: Path, name: str = "guildhall") -> None:
        self.directory = directory
        self.name = name
        self.nodes = [RedisServer(free_port(), directory / label) for label in ("node-a", "node-b")]
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.sentinel_services: list[Service] = []

    # --- addresses

    @property
    def sentinels(self) -> str:
        """The REDIS_SENTINELS setting: host:port,host:port,..."""
        return ",".join(f"{HOST}:{port}" for port in self.sentinel_ports)

    def master_address(self, sentinel: int = 0) -> tuple[str, int]:
        host, port = redis_call(self.sentinel_ports[sentinel], "SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.name)
        return str(host), int(port)

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.master_address()[1]}/0"

    def node(self, port: int) -> RedisServer:
        return next(node for node in self.nodes if node.port == port)

    def other(self, node: RedisServer) -> RedisServer:
        return next(candidate for candidate in self.nodes if candidate is not node)

    @property
    def master(self) -> RedisServer:
        return self.node(self.master_address()[1])

    # --- life cycle

    def start(self) -> None:
        master, replica = self.nodes
        for node in self.nodes:
            self._start_node(node)
        redis_call(replica.port, "REPLICAOF", HOST, master.port)
        # Replication up before the sentinels look: their first INFO on the master lists the replica.
        wait_until(
            lambda: self._replicating(replica, master), timeout=TIMEOUT, interval=0.05, what="the replica to sync"
        )
        for index, port in enumerate(self.sentinel_ports):
            self.sentinel_services.append(self._start_sentinel(index, port, master.port))
        self.wait_ready()

    def _start_node(self, node: RedisServer) -> None:
        node.directory.mkdir(parents=True, exist_ok=True)
        node.start()
        # Redis 7 syncs a new replica disklessly after a 5 s delay (waiting for more replicas to
        # share the transfer); every node may become the master, so none waits.
        redis_call(node.port, "CONFIG", "SET", "repl-diskless-sync-delay", 0)

    def _start_sentinel(self, index: int, port: int, master_port: int) -> Service:
        directory = self.directory / f"sentinel-{index}"
        directory.mkdir(parents=True, exist_ok=True)
        conf = directory / "sentinel.conf"  # a file of its own: a sentinel rewrites it as it learns
        conf.write_text(
            f"port {port}\nbind {HOST}\ndir {directory}\n"
            "sentinel resolve-hostnames no\n"  # before `monitor`, which it governs
            f"sentinel monitor {self.name} {HOST} {master_port} 2\n"
            f"sentinel down-after-milliseconds {self.name} 1000\n"
            f"sentinel failover-timeout {self.name} 5000\n"
            f"sentinel parallel-syncs {self.name} 1\n"
        )
        service = Service(
            f"sentinel-{index}",
            sentinel_argv(conf),
            dict(os.environ),
            directory / "sentinel.log",
            ready=lambda _: redis_answers(port),
        )
        service.start()
        redis_call(port, "SENTINEL", "DEBUG", *SENTINEL_DEBUG)
        return service

    def stop(self) -> None:
        # Sentinels first, so they do not react to the nodes going away.
        for service in self.sentinel_services:
            service.stop()
        for node in self.nodes:
            node.stop()

    # --- state

    def _replicating(self, replica: RedisServer, master: RedisServer) -> bool:
        try:
            info = redis_call(replica.port, "ROLE")
        except (redis.RedisError, OSError):
            return False
        # ["slave", host, port, state, offset]: "connected" once the sync is done.
        return info[0] == "slave" and int(info[2]) == master.port and info[3] == "connected"

    def _sentinel_settled(self, port: int, master: RedisServer) -> bool:
        """Sentinel on `port` has `master` as master with nothing amiss (no s_down, o_down or
        failover in progress) and the two other sentinels as healthy peers, with no "master down"
        answer of theirs still counting."""
        try:
            if redis_call(port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.name) != [HOST, str(master.port)]:
                return False
            state = pairs(redis_call(port, "SENTINEL", "MASTER", self.name))
            others = [pairs(item) for item in redis_call(port, "SENTINEL", "SENTINELS", self.name)]
        except (redis.RedisError, OSError):
            return False
        return (
            state["flags"] == "master"
            and state["num-other-sentinels"] == "2"
            and len(others) == 2
            and all(other["flags"] == "sentinel" for other in others)
        )

    def _sentinel_sees(self, port: int, master: RedisServer, replica: RedisServer) -> bool:
        """Settled, and `replica` is a healthy replica of `master` to it: a failover can proceed."""
        try:
            replicas = [pairs(item) for item in redis_call(port, "SENTINEL", "REPLICAS", self.name)]
        except (redis.RedisError, OSError):
            return False
        return self._sentinel_settled(port, master) and [
            (r["port"], r["flags"], r["role-reported"], r["master-link-status"]) for r in replicas
        ] == [(str(replica.port), "slave", "slave", "ok")]

    def wait_ready(self, timeout: float = TIMEOUT) -> None:
        """Until every sentinel agrees on the master (which answers ROLE as master), sees the other
        node as its healthy replica, and knows both other sentinels."""
        master = self.master
        replica = self.other(master)

        def ready() -> bool:
            return (
                role(master.port) == "master"
                and self._replicating(replica, master)
                and all(self._sentinel_sees(port, master, replica) for port in self.sentinel_ports)
            )

        wait_until(ready, timeout=timeout, interval=0.05, what=f"sentinels to agree on {master.port} with a replica")

    def _wait_master(self, node: RedisServer, timeout: float) -> None:
        def promoted() -> bool:
            with contextlib.suppress(redis.RedisError, OSError):
                agreed = all(self.master_address(index)[1] == node.port for index in range(len(self.sentinel_ports)))
                return agreed and role(node.port) == "master"
            return False

        wait_until(promoted, timeout=timeout, interval=0.05, what=f"sentinels to report {node.port} as master")

    # --- faults

    def failover(self, timeout: float = TIMEOUT) -> RedisServer:
        """SENTINEL FAILOVER (no vote needed): the replica becomes master, the old master its
        replica. Returns once the cluster is ready for the next failover; the new master."""
        old = self.master
        new = self.other(old)
        assert redis_call(self.sentinel_ports[0], "SENTINEL", "FAILOVER", self.name) == "OK"
        self._wait_master(new, timeout)
        wait_until(lambda: role(old.port) == "slave", timeout=timeout, interval=0.05, what=f"{old.port} demoted")
        self.wait_ready(timeout)
        return new

    def kill_master(self, timeout: float = TIMEOUT) -> RedisServer:
        """SIGKILL the master; returns once the sentinels have promoted the replica. The killed
        node is returned, for restart(). An election lost to a split vote is retried only after
        2 x failover-timeout (10 s): hence the 30 s."""
        old = self.master
        assert old.process is not None
        old.process.send_signal(signal.SIGKILL)
        old.process.wait()
        new = self.other(old)
        self._wait_master(new, timeout)
        # Settled before returning: no sentinel still counting the others' "master down" answers
        # about the killed node (they would make a glitch seen on the new master a failover).
        wait_until(
            lambda: all(self._sentinel_settled(port, new) for port in self.sentinel_ports),
            timeout=timeout,
            interval=0.05,
            what=f"sentinels to settle on {new.port}",
        )
        return old

    def restart(self, node: RedisServer, timeout: float = TIMEOUT) -> None:
        """Start a killed node again: it comes back as an (empty) master, and the sentinels make it
        a replica of the current master. Returns once it is one and a failover could follow."""
        self._start_node(node)
        master = self.other(node)
        wait_until(
            lambda: self._replicating(node, master), timeout=timeout, interval=0.05, what=f"{node.port} to rejoin"
        )
        self.wait_ready(timeout)


# --- a TCP proxy ------------------------------------------------------------------------


class TcpProxy:
    """Forwards connections on 127.0.0.1:<port> to a target that retarget() moves: connections
    already open stay with the old target, new ones go to the new one. Like a managed Redis's one
    address after a failover. Its own event loop runs in a background thread."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tcp-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[Any]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    def start(self) -> "TcpProxy":
        """Listen (once: `with TcpProxy(...).start() as proxy` starts it only once)."""
        if not self._thread.is_alive():
            self._thread.start()
            self._call(self._listen())
        return self

    def retarget(self, host: str, port: int) -> None:
        self.target = (host, port)  # one assignment: read once per new connection, in the loop's thread

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def stop(self) -> None:
        if self._thread.is_alive():
            self._call(self._shutdown())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> "TcpProxy":
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _call(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout=TIMEOUT)

    async def _listen(self) -> None:
        # Port 0: the kernel picks a free port, and no one can take it between choosing and binding.
        self._server = await asyncio.start_server(self._forward, HOST, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        # Close the sockets, not cancel the handlers: each then ends as if its peer had hung up (a
        # cancelled stream handler is logged as an error by asyncio).
        for writer in self._writers:
            writer.close()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _forward(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(client_writer)
        upstream_writer: asyncio.StreamWriter | None = None
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
            self._writers.add(upstream_writer)
            directions = [
                asyncio.create_task(_pipe(client_reader, upstream_writer)),
                asyncio.create_task(_pipe(upstream_reader, client_writer)),
            ]
            # Either side closing closes both, as a dead server or client would.
            await asyncio.wait(directions, return_when=asyncio.FIRST_COMPLETED)
            for direction in directions:
                direction.cancel()
            await asyncio.gather(*directions, return_exceptions=True)
        except OSError:
            pass  # the target refused: the client sees its connection closed
        finally:
            for writer in (client_writer, upstream_writer):
                if writer is not None:
                    self._writers.discard(writer)
                    writer.close()
                    with contextlib.suppress(OSError):
                        await writer.wait_closed()
            self._handlers.discard(task)


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):  # a reset on either side ends this direction
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
