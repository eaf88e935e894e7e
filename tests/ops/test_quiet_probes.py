"""uvicorn's access log without the probes (issue #19): successful GET/HEAD of /healthz, /readyz and
/metrics say nothing at INFO; every other request, and a failing probe, still logs
(services.api.serve.QuietProbes). Served for real: uvicorn with `guildhall api`'s own options
(uvicorn_options: its protocol, its logging config) and the app on the test database and Redis."""

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import uvicorn
from pydantic import SecretStr
from sqlalchemy.engine import URL

from services.api.main import create_app
from services.api.serve import ACCESS_LOGGER, QuietProbes, uvicorn_options
from shared.settings import get_settings
from tests.conftest import redis_url_for_tests
from tests.support.network import free_port

METRICS_TOKEN = "quiet-probes-test-token"
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", ACCESS_LOGGER)


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def uvicorn_logging() -> Iterator[None]:
    """uvicorn.Config applies its logging config to this (shared) process: put uvicorn's loggers back after."""
    saved = {
        name: (logger.level, logger.propagate, list(logger.handlers), list(logger.filters))
        for name in UVICORN_LOGGERS
        for logger in [logging.getLogger(name)]
    }
    yield
    for name, (level, propagate, handlers, filters) in saved.items():
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.propagate = propagate
        logger.handlers[:] = handlers
        logger.filters[:] = filters


@pytest.fixture
async def served(database_url: URL, uvicorn_logging: None) -> AsyncIterator[tuple[str, Collect]]:
    """The app served with `guildhall api`'s options; the access log's records collected as its
    handlers would get them (after the logger's filters)."""
    settings = get_settings().model_copy(
        update={
            "database_url": database_url.render_as_string(hide_password=False),
            "redis_url": redis_url_for_tests(),
            "metrics_token": SecretStr(METRICS_TOKEN),
        }
    )
    port = free_port()
    options = uvicorn_options("127.0.0.1", port, 1)
    options.pop("workers")
    options["app"] = create_app(settings)
    config = uvicorn.Config(**options)  # applies the logging config, as every API process does
    collect = Collect()
    logging.getLogger(ACCESS_LOGGER).addHandler(collect)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(15):
        while not server.started:  # noqa: ASYNC110  (uvicorn exposes a flag, not an event)
            await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", collect
    finally:
        server.should_exit = True
        await task


def request_lines(collect: Collect) -> list[tuple[str, str, str, int]]:
    """(level, method, path, status) of each access record that reached the handlers."""
    return [(r.levelname, str(r.args[1]), str(r.args[2]), int(r.args[4])) for r in collect.records]  # type: ignore[index]


async def test_successful_probes_are_not_access_logged_and_other_requests_are(
    served: tuple[str, Collect],
) -> None:
    url, collect = served
    async with httpx.AsyncClient(base_url=url) as client:
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/readyz")).status_code == 200  # the test PostgreSQL and Redis answer
        assert (await client.get("/healthz?from=kubelet")).status_code == 200
        scrape = await client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert scrape.status_code == 200
        assert (await client.get("/metrics")).status_code == 401  # a scraper without its token: news
        assert (await client.get("/ops")).status_code == 200
        assert (await client.get("/api/v1/no-such-route")).status_code == 404
    await asyncio.sleep(0.05)  # uvicorn logs a request once its response is sent

    assert request_lines(collect) == [
        ("INFO", "GET", "/metrics", 401),
        ("INFO", "GET", "/ops", 200),
        ("INFO", "GET", "/api/v1/no-such-route", 404),
    ]


def access_record(method: str, path: str, status: int) -> logging.LogRecord:
    """A record as uvicorn's httptools protocol logs it (uvicorn/protocols/http/httptools_impl.py)."""
    return logging.LogRecord(
        ACCESS_LOGGER,
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("10.0.0.7:5123", method, path, "1.1", status),
        None,
    )


@pytest.mark.parametrize(
    ("method", "path", "status", "kept"),
    [
        ("GET", "/healthz", 200, False),
        ("HEAD", "/readyz", 200, False),
        ("GET", "/readyz", 503, True),  # not ready: an operator wants to see that
        ("POST", "/healthz", 405, True),
        ("GET", "/healthz/extra", 404, True),
        ("GET", "/api/v1/heroes", 200, True),
    ],
)
def test_the_filter_reads_uvicorns_access_record(
    method: str, path: str, status: int, kept: bool, uvicorn_logging: None
) -> None:
    logging.getLogger(ACCESS_LOGGER).setLevel(logging.INFO)
    record = access_record(method, path, status)
    assert QuietProbes().filter(record) is kept
    assert record.levelname == ("INFO" if kept else "DEBUG")


def test_at_debug_a_probe_is_a_debug_line(uvicorn_logging: None) -> None:
    logging.getLogger(ACCESS_LOGGER).setLevel(logging.DEBUG)
    record = access_record("GET", "/healthz", 200)
    assert QuietProbes().filter(record) is True and record.levelno == logging.DEBUG
