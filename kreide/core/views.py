"""Operations endpoints: liveness, readiness, metrics."""

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.templatetags.static import static
from django.views.decorators.cache import never_cache

from kreide.core import drain
from kreide.core.cache import shared_cache_problem
from kreide.core.metrics import render_latest


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is alive; touches nothing else."""
    return JsonResponse({"status": "ok"})


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready to serve: database reachable and every migration applied (200, else 503).

    The cache is reported but does not decide: without Redis this node still serves every
    page from the database (status "degraded"), and since Redis is shared, a 503 would make
    the load balancer take every node out at once. A draining node (`kreide drain`)
    answers 503 before anything else, so the balancer stops sending it requests."""
    if drain.draining():
        return JsonResponse({"status": "draining", "checks": {}}, status=503)
    checks: dict[str, str] = {}
    try:
        connection = connections[DEFAULT_DB_ALIAS]
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        checks["migrations"] = "ok" if not pending else f"{len(pending)} pending"
    except Exception as error:  # any failure means "not ready", with the reason
        checks["database"] = f"error: {type(error).__name__}"
    ready = all(value == "ok" for value in checks.values()) and "migrations" in checks
    problem = shared_cache_problem()
    checks["cache"] = "ok" if problem is None else f"unavailable: {problem}"
    state = ("ok" if problem is None else "degraded") if ready else "unavailable"
    return JsonResponse({"status": state, "checks": checks}, status=200 if ready else 503)


@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics, only for the scraper addresses configured by the operator."""
    if request.META.get("REMOTE_ADDR") not in settings.METRICS_ALLOWED_ADDRESSES:
        return HttpResponse(status=404)
    body, content_type = render_latest()
    return HttpResponse(body, content_type=content_type)


def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico on pages that name no icon (and some on every page)."""
    response = HttpResponsePermanentRedirect(static("kreide/favicon.svg"))
    response["Cache-Control"] = "public, max-age=86400"
    return response
