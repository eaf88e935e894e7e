"""What a scrape renders: the HTTP metrics (this process's, or every API process's summed) and one
fresh snapshot of the queues."""

import os

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, generate_latest, multiprocess

from services.api.metrics.collector import QueueCollector, snapshot


def http_registry(app: FastAPI) -> CollectorRegistry:
    """This process's HTTP metrics or, with several API processes (PROMETHEUS_MULTIPROC_DIR, see
    services.api.serve), every process's, summed from the files each one writes there."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry: CollectorRegistry = app.state.http_metrics.registry
        return registry
    combined = CollectorRegistry(auto_describe=False)
    multiprocess.MultiProcessCollector(combined)  # type: ignore[no-untyped-call]  # prometheus_client leaves it unannotated
    return combined


async def render(app: FastAPI) -> bytes:
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(QueueCollector(await snapshot(app)))
    return generate_latest(http_registry(app)) + generate_latest(scrape)
