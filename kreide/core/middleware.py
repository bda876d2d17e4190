"""Request timing: one structured log line for slow or failed requests, and metrics."""

import logging
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from kreide.core.metrics import LATENCY, REQUESTS

logger = logging.getLogger("kreide.request")
SLOW_SECONDS = 1.0


class RequestLogMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        match = getattr(request, "resolver_match", None)
        view = match.view_name if match else "unresolved"
        REQUESTS.labels(view, request.method, str(response.status_code)).inc()
        LATENCY.labels(view).observe(elapsed)
        if elapsed >= SLOW_SECONDS or response.status_code >= 500:
            logger.warning(
                "request",
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "ms": round(elapsed * 1000, 1),
                    "view": view,
                },
            )
        return response
