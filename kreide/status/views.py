"""The public status page: rendered from the cache and the snapshot file, never the database."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache

from kreide.core import health as core_health
from kreide.core import load, restarts
from kreide.status import health, services

PLOT_MINUTES = 180
CHILD_NAMES = {
    "pages": gettext_lazy("Page server"),
    "realtime": gettext_lazy("Real-time server (messenger)"),
    "status-sample": gettext_lazy("Health checks of the modules"),
    "janus": gettext_lazy("Video server"),
    "news-announce": gettext_lazy("Scheduled news"),
    "access-exports": gettext_lazy("Copies of personal data"),
    "notifications": gettext_lazy("Notification delivery"),
}
PLOT_WIDTH, PLOT_HEIGHT = 720, 140


def _modules(snapshot_health: dict[str, Any] | None) -> list[dict[str, Any]]:
    fresh = snapshot_health is not None and (
        time.time() - snapshot_health["at"] < health.STALE_SECONDS
    )
    rows = []
    for check in core_health.registered():
        found = (snapshot_health or {}).get("modules", {}).get(check.key) if fresh else None
        if found is None:
            state, label = "unknown", _("unknown")
        elif found["problem"] == core_health.NOT_CONFIGURED:
            continue  # not part of this deployment: "working" would claim too much
        elif not found["ok"] and check.degrades:
            state, label = "degraded", _("degraded (slower, everything still works)")
        elif not found["ok"]:
            state, label = "down", _("disrupted")
        else:
            state, label = "ok", _("working")
        rows.append({"name": str(check.label), "state": state, "label": label})
    return rows


def _plot(minutes: list[dict[str, int]]) -> dict[str, Any]:
    """Polylines for requests and refusals per minute, scaled to the busiest minute."""
    peak = max([1, *(m["completed"] + m["shed"] for m in minutes)])
    step = PLOT_WIDTH / max(1, len(minutes) - 1)

    def line(counter: str) -> str:
        return " ".join(
            f"{index * step:.1f},{PLOT_HEIGHT - PLOT_HEIGHT * m[counter] / peak:.1f}"
            for index, m in enumerate(minutes)
        )

    return {
        "served": line("completed"),
        "shed": line("shed"),
        "peak": peak,
        "width": PLOT_WIDTH,
        "height": PLOT_HEIGHT,
    }


def _load() -> dict[str, Any]:
    now_minute = int(time.time() // 60)
    minutes = load.minutes(now_minute - PLOT_MINUTES, now_minute + 1)
    last = minutes[-2]  # the last complete minute
    handled = last["completed"] + last["shed"]
    return {
        "in_flight": load.in_flight_now(),
        "per_second": round(last["completed"] / 60, 1),
        "shed_percent": round(100 * last["shed"] / handled, 1) if handled else 0.0,
        "mean_ms": round(last["ms"] / last["completed"]) if last["completed"] else None,
        "plot": _plot(minutes),
    }


def _incident_rows(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            **item,
            "started": datetime.fromisoformat(item["started_at"]),
            "ended": datetime.fromisoformat(item["ended_at"]) if item["ended_at"] else None,
        }
        for item in items
    ]


@never_cache
def status_page(request: HttpRequest) -> HttpResponse:
    # The language comes from the address, not a session: this page never reads one.
    chosen = request.GET.get("language")
    if chosen in dict(settings.LANGUAGES):
        with translation.override(chosen):
            return _status_page()
    return _status_page()


def _status_page() -> HttpResponse:
    snapshot = services.read_snapshot()
    # A school's own notes are for its people (banners), not for the public page.
    incidents = _incident_rows(
        [item for item in snapshot["incidents"] if item.get("school_id") is None]
    )
    context = {
        "modules": _modules(snapshot["health"]),
        "open_incidents": [item for item in incidents if item["ended"] is None],
        "closed_incidents": [item for item in incidents if item["ended"] is not None],
        "load": _load(),
        "restarts": [
            {
                "name": CHILD_NAMES.get(event["child"], event["child"]),
                "at": datetime.fromtimestamp(event["at"], tz=UTC),
            }
            for event in reversed(restarts.recent())
        ],
        "checked_at": (
            datetime.fromtimestamp(snapshot["health"]["at"], tz=UTC) if snapshot["health"] else None
        ),
    }
    # No request context: no session, no user, no database.
    response = HttpResponse(render_to_string("status/page.html", context))
    response["Content-Language"] = translation.get_language()
    return response
