"""Restarts of `kreide serve`'s children, kept for /status: the supervisor alone writes
them (DATA_DIR/restarts.json), the status page reads them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

RESTARTS_KEPT = 50
RESTARTS_SHOWN_SECONDS = 24 * 60 * 60


def _file() -> Path:
    return Path(settings.DATA_DIR) / "restarts.json"


def record(child: str, code: int) -> None:
    """`kreide serve` noted that a child exited and will start it again (it alone writes)."""
    path = _file()
    try:
        events = json.loads(path.read_text())
    except (OSError, ValueError):
        events = []
    events = [*events, {"child": child, "code": code, "at": timezone.now().timestamp()}]
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(events[-RESTARTS_KEPT:]))
    temporary.replace(path)


def recent() -> list[dict[str, Any]]:
    """Restarts of `kreide serve`'s children within the last RESTARTS_SHOWN_SECONDS."""
    try:
        events = json.loads(_file().read_text())
    except (OSError, ValueError):
        return []
    since = timezone.now().timestamp() - RESTARTS_SHOWN_SECONDS
    return [event for event in events if event["at"] >= since]
