"""Prometheus metrics: HTTP requests (middleware) and, at scrape time, the queues from Redis and the
outbox backlog from PostgreSQL (a custom collector over one fresh snapshot per scrape).

Access, by setting: METRICS_LISTEN="host:port" serves /metrics on that separate address only
(the API port then answers 404); otherwise METRICS_TOKEN requires `Authorization: Bearer <token>`;
with neither, /metrics is open in development and refused (403) elsewhere.

One module per concern: the HTTP middleware and its counters (middleware), the route label
(labels), the queue collector (collector), the registries a scrape renders (registry), the /metrics
route and who may read it (endpoint), and the separate METRICS_LISTEN server (listener).
"""

from services.api.metrics.endpoint import install
from services.api.metrics.listener import MetricsListener, listener_for

__all__ = ["MetricsListener", "install", "listener_for"]
