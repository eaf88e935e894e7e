"""Serving the API: WEB_CONCURRENCY uvicorn processes on one port (`guildhall api`, which
`make run` and compose use).

API processes keep no state of their own (a caller cache of a few seconds at most), so any
number of them can serve one port. What each would otherwise keep apart is its HTTP metrics:
they run in prometheus_client's multiprocess mode, each process writing its counters under
PROMETHEUS_MULTIPROC_DIR (a fresh directory per start, removed at exit) and any process
answering /metrics with the sum of all.

Every process bounds what a client may hold: a request head's size and the time to receive it,
the silences in a request body, its open connections (services.api.http_limits, on uvicorn's
httptools protocol) and idle keep-alive connections.

Health probes and scrapes are not logged when they succeed: an orchestrator's /healthz and /readyz
and Prometheus's /metrics come every few seconds each, and were most of uvicorn's access log (issue
#19). A probe that fails (status 400 or above) is still logged: that is news. uvicorn's own
`--log-level debug` (or a logging config with `uvicorn.access` at DEBUG) shows them as DEBUG lines.

The client's address (request.client.host, which the login throttle counts failures by) is the
socket's peer, or the last address of X-Forwarded-For only when that peer is one of
FORWARDED_ALLOW_IPS (a proxy of ours; default 127.0.0.1): anyone else could name any address.
"""

import copy
import logging
import os
import tempfile
from typing import Any

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from services.api.http_limits import PROTOCOL
from shared.settings import get_settings

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Paths whose successful GET or HEAD says nothing (services.api.routes.health, services.api.metrics).
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
ACCESS_LOGGER = "uvicorn.access"


class QuietProbes(logging.Filter):
    """On uvicorn's access logger: a successful probe or scrape becomes a DEBUG record, kept only if
    that logger is enabled for DEBUG. Reads uvicorn's access record as it logs it (httptools_impl):
    `'%s - "%s %s HTTP/%s" %d'` with (client address, method, path with query, HTTP version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if not (isinstance(args, tuple) and len(args) == 5):
            return True
        _client, method, path, _version, status = args
        quiet = (
            method in ("GET", "HEAD")
            and isinstance(path, str)
            and path.partition("?")[0] in QUIET_PATHS
            and isinstance(status, int)
            and status < 400
        )
        if not quiet:
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


# The packages whose loggers are Guildhall's (logging.getLogger(__name__) everywhere).
APP_LOGGERS = ("shared", "services")


def log_config() -> dict[str, Any]:
    """uvicorn's default logging config, with QuietProbes on its access logger. A dict that names the
    filter by import path: every API process (spawned by uvicorn with `workers`) applies it itself."""
    level = get_settings().log_level
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"quiet_probes": {"()": f"{QuietProbes.__module__}.{QuietProbes.__qualname__}"}}
    config["loggers"][ACCESS_LOGGER]["filters"] = ["quiet_probes"]
    for name in ("uvicorn", "uvicorn.error", ACCESS_LOGGER):
        config["loggers"][name]["level"] = level
    # Guildhall's own lines (ops actions' audit, enqueue failures, ...) through uvicorn's handler:
    # without a logger of their own they would reach no handler and never be printed.
    for name in APP_LOGGERS:
        config["loggers"][name] = {"handlers": ["default"], "level": level, "propagate": False}
    return config


def api_processes() -> int:
    """WEB_CONCURRENCY, or one process per CPU."""
    configured = get_settings().web_concurrency
    return max(1, configured or os.cpu_count() or 1)


def serve(host: str, port: int, processes: int) -> None:
    print(f"guildhall api: http://{host}:{port} with {processes} process(es) (WEB_CONCURRENCY)", flush=True)
    if os.environ.get(MULTIPROC_ENV):  # the operator's own directory: theirs to manage
        _run(host, port, processes)
        return
    # Set before any process imports prometheus_client: spawned servers inherit the environment.
    with tempfile.TemporaryDirectory(prefix="guildhall-metrics-") as directory:
        os.environ[MULTIPROC_ENV] = directory
        _run(host, port, processes)


def _run(host: str, port: int, processes: int) -> None:
    uvicorn.run(**uvicorn_options(host, port, processes))


def uvicorn_options(host: str, port: int, processes: int) -> dict[str, Any]:
    """uvicorn.run's arguments (uvicorn.Config's), apart so a test can read what is asked of it."""
    settings = get_settings()
    return {
        "app": "services.api.main:app",
        "host": host,
        "port": port,
        "workers": processes,
        # An import path, not the class: each worker process imports it (and reads the limits).
        "http": PROTOCOL,
        "timeout_keep_alive": settings.http_keep_alive_seconds,
        # X-Forwarded-For and -Proto are believed only from these peers. uvicorn would read
        # FORWARDED_ALLOW_IPS from the environment alone; passed here, the settings (and `.env`) decide.
        "proxy_headers": True,
        "forwarded_allow_ips": settings.forwarded_allow_ips,
        # No `server: uvicorn` on every response: it tells a scanner what to try, and no client needs it.
        "server_header": False,
        # The API has no WebSocket route: no upgrade for a client to ask for.
        "ws": "none",
        # Successful health probes and scrapes are not access-logged (QuietProbes).
        "log_config": log_config(),
    }
