"""Prometheus metrics. With several worker processes, PROMETHEUS_MULTIPROC_DIR makes them
share one view (set by `kreide serve`)."""

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUESTS = Counter(
    "kreide_http_requests_total", "HTTP requests by view and status", ["view", "method", "status"]
)
LATENCY = Histogram(
    "kreide_http_request_seconds",
    "Time to answer an HTTP request",
    ["view"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.5, 3, 6, 12),
)
LOGINS = Counter("kreide_logins_total", "Sign-in attempts by outcome", ["outcome"])


def render_latest() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
