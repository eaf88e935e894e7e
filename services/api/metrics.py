"""Prometheus metrics: HTTP requests (middleware) and, at scrape time, the queues from Redis and the
outbox backlog from PostgreSQL (a custom collector over one fresh snapshot per scrape).

Access, by setting: METRICS_LISTEN="host:port" serves /metrics on that separate address only
(the API port then answers 404); otherwise METRICS_TOKEN requires `Authorization: Bearer <token>`;
with neither, /metrics is open in development and refused (403) elsewhere.
"""

import asyncio
import contextlib
import hmac
import logging
import os
import re
import time
from collections.abc import Iterator

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.api.problems import problem_response
from shared.ops.inspect import read_summary
from shared.ops.queries import outbox_backlog
from shared.ops.schemas import OpsSummary, WorkerState
from shared.settings import Settings

logger = logging.getLogger(__name__)

HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class HttpMetrics:
    """Per-app metrics (a registry of its own, so several apps in one process do not collide)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "guildhall_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "guildhall_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template.",
            ["method", "route"],
            buckets=HTTP_BUCKETS,
            registry=self.registry,
        )


class HttpMetricsMiddleware:
    """Pure ASGI: counts and times every HTTP request. Routes are labelled by their template
    (/api/v1/heroes/{hero_id}), never by the raw path, so the label set stays small."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_code = 500

        async def sending(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = route_template(scope)
            method = scope.get("method", "?")
            self.metrics.requests.labels(method, route, str(status_code)).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - started)


_PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


def route_template(scope: Scope) -> str:
    """The matched route's full template. A route inside an included router knows only its own part
    (/ops/jobs/{job_id}); the prefix it was mounted under is what precedes that part, filled in with
    this request's path parameters, in the request's path."""
    route = scope.get("route")
    template = getattr(route, "path", None)
    if not template:
        return "<unmatched>"
    params = scope.get("path_params", {})
    filled = _PARAM.sub(lambda match: str(params.get(match.group(1), match.group(0))), template)
    path: str = scope.get("path", "")
    prefix = path[: -len(filled)] if filled and path.endswith(filled) else ""
    return prefix + template


class QueueCollector(Collector):
    """Metrics of one snapshot (read asynchronously just before the scrape is rendered)."""

    def __init__(self, summary: OpsSummary | None) -> None:
        self.summary = summary

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("guildhall_ops_redis_up", "1 if the queues could be read from Redis at this scrape.")
        up.add_metric([], 1 if self.summary is not None else 0)
        yield up
        if self.summary is None:
            return
        yield from self._queues(self.summary)
        yield from self._functions(self.summary)
        yield from self._workers(self.summary)
        if self.summary.outbox is not None:
            waiting = GaugeMetricFamily("guildhall_outbox_waiting_messages", "Outbox rows not yet processed.")
            waiting.add_metric([], self.summary.outbox.waiting)
            oldest = GaugeMetricFamily("guildhall_outbox_oldest_age_seconds", "Age of the oldest waiting outbox row.")
            oldest.add_metric([], self.summary.outbox.oldest_age_seconds or 0.0)
            dead = GaugeMetricFamily("guildhall_outbox_dead_messages", "Outbox rows the sweeper gave up on.")
            dead.add_metric([], self.summary.outbox.dead)
            yield from (waiting, oldest, dead)

    def _queues(self, summary: OpsSummary) -> Iterator[Metric]:
        depth = GaugeMetricFamily("guildhall_queue_jobs", "Jobs in a queue, by state.", labels=["queue", "state"])
        latency = GaugeMetricFamily(
            "guildhall_queue_latency_seconds", "How long the oldest ready job has waited (0: none).", labels=["queue"]
        )
        for queue in summary.queues:
            depth.add_metric([queue.queue, "ready"], queue.ready)
            depth.add_metric([queue.queue, "deferred"], queue.deferred)
            depth.add_metric([queue.queue, "in_progress"], queue.running)
            latency.add_metric([queue.queue], queue.oldest_ready_age_seconds or 0.0)
        yield from (depth, latency)

    def _functions(self, summary: OpsSummary) -> Iterator[Metric]:
        total = CounterMetricFamily(
            "guildhall_jobs", "Ended job tries, by function and outcome.", labels=["function", "queue", "outcome"]
        )
        duration = HistogramMetricFamily(
            "guildhall_job_duration_seconds", "Run time of finished jobs (complete or failed).", labels=["function"]
        )
        for stats in summary.functions:
            queue = stats.queue or ""
            total.add_metric([stats.function, queue, "complete"], stats.complete)
            total.add_metric([stats.function, queue, "failed"], stats.failed)
            total.add_metric([stats.function, queue, "retried"], stats.retried)
            buckets = [("+Inf" if b.le_ms is None else str(b.le_ms / 1000), b.count) for b in stats.buckets]
            duration.add_metric([stats.function], buckets, sum_value=stats.duration_ms_sum / 1000)
        yield from (total, duration)

    def _workers(self, summary: OpsSummary) -> Iterator[Metric]:
        states = GaugeMetricFamily("guildhall_workers", "Worker processes, by state.", labels=["state"])
        for state in WorkerState:
            states.add_metric([state.value], sum(w.state == state for w in summary.workers))
        age = GaugeMetricFamily(
            "guildhall_worker_heartbeat_age_seconds",
            "Seconds since a worker's last heartbeat.",
            labels=["worker", "queue"],
        )
        for worker in summary.workers:
            if worker.heartbeat_age_seconds is not None:
                age.add_metric([worker.name, worker.queue or ""], worker.heartbeat_age_seconds)
        yield from (states, age)


async def snapshot(app: FastAPI) -> OpsSummary | None:
    try:
        summary = await read_summary(app.state.job_pool)
    except Exception:
        logger.warning("metrics: could not read the queues from Redis", exc_info=True)
        return None
    try:
        async with app.state.session_factory() as session:
            summary.outbox = await outbox_backlog(session)
    except Exception:
        logger.warning("metrics: could not read the outbox backlog", exc_info=True)
    return summary


def http_registry(app: FastAPI) -> CollectorRegistry:
    """This process's HTTP metrics or, with several API processes (PROMETHEUS_MULTIPROC_DIR, see
    services.api.serve), every process's, summed from the files each one writes there."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry: CollectorRegistry = app.state.http_metrics.registry
        return registry
    combined = CollectorRegistry(auto_describe=False)
    multiprocess.MultiProcessCollector(combined)
    return combined


async def render(app: FastAPI) -> bytes:
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(QueueCollector(await snapshot(app)))
    return generate_latest(http_registry(app)) + generate_latest(scrape)


def token_allows(settings: Settings, authorization: str | None) -> bool:
    if settings.metrics_token is None:
        return settings.environment == "development"
    expected = f"Bearer {settings.metrics_token.get_secret_value()}"
    return authorization is not None and hmac.compare_digest(authorization.encode(), expected.encode())


def install(app: FastAPI, settings: Settings) -> None:
    metrics = HttpMetrics()
    app.state.http_metrics = metrics
    app.add_middleware(HttpMetricsMiddleware, metrics=metrics)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics(request: Request) -> Response:
        if settings.metrics_listen:
            return problem_response(404, f"metrics are served on {settings.metrics_listen}")
        if not token_allows(settings, request.headers.get("authorization")):
            detail = "a valid metrics token is required" if settings.metrics_token else "set METRICS_TOKEN"
            return problem_response(403 if settings.metrics_token is None else 401, detail)
        return Response(await render(app), media_type=CONTENT_TYPE_LATEST)


class MetricsListener:
    """/metrics on a separate address (METRICS_LISTEN), for a scraper on an internal network.
    A minimal HTTP/1.1 responder on asyncio: GET /metrics or 404, one request per connection."""

    def __init__(self, app: FastAPI, address: str) -> None:
        self.app = app
        host, _, port = address.rpartition(":")
        self.host, self.port = host or "127.0.0.1", int(port)
        self.server: asyncio.Server | None = None

    async def start(self) -> None:
        # reuse_port: every API process listens on the one address; any of them answers with the sum.
        self.server = await asyncio.start_server(self._serve, self.host, self.port, reuse_port=True)
        logger.info("metrics listening on http://%s:%s/metrics", self.host, self.port)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            request_line = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                pass  # headers are not needed
            method, path, *_ = [*request_line.decode("latin-1").split(" "), "", ""]
            if method == "GET" and path.split("?")[0] == "/metrics":
                body, status, content_type = await render(self.app), "200 OK", CONTENT_TYPE_LATEST
            else:
                body, status, content_type = b"not found\n", "404 Not Found", "text/plain"
            head = f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
            writer.write(head.encode() + b"Connection: close\r\n\r\n" + body)
            await writer.drain()
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


def listener_for(app: FastAPI, settings: Settings) -> MetricsListener | None:
    return MetricsListener(app, settings.metrics_listen) if settings.metrics_listen else None
