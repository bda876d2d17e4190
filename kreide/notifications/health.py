"""/status for notifications: the delivery queue moves (the worker runs and keeps up)."""

from __future__ import annotations

from django.utils import timezone

from kreide.core import health
from kreide.notifications import delivery

# A notification waiting longer than this means the worker is down or far behind.
LATE_SECONDS = 120


def check() -> str | None:
    health.tables_answer("notifications")
    oldest = delivery.oldest_waiting()
    if oldest is None:
        return None
    waited = (timezone.now() - oldest).total_seconds()
    if waited < LATE_SECONDS:
        return None
    return f"{delivery.queue_length()} waiting, the oldest for {int(waited // 60)} min"
