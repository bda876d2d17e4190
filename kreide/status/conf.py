"""Admission and status settings: KREIDE_* environment variables with defaults.

Read through `value(name)` so tests can override them with Django's `settings` fixture.
docs/performance.md explains how to size them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings

from kreide.env import env_bool, env_int, env_list, env_str

DEFAULTS: dict[str, Any] = {
    # Off gives the naive configuration the benchmark compares against.
    "ADMISSION_ENABLED": env_bool("KREIDE_ADMISSION", True),
    # Requests running at once per worker process: enough to overlap database and cache
    # waits, few enough that a saturated CPU does not stretch every request.
    "ADMISSION_IN_FLIGHT": env_int("KREIDE_ADMISSION_IN_FLIGHT", 4),
    "ADMISSION_QUEUE": env_int("KREIDE_ADMISSION_QUEUE", 8),
    # Longest wait in the queue before the request is turned away.
    "ADMISSION_QUEUE_TIMEOUT_MS": env_int("KREIDE_ADMISSION_QUEUE_TIMEOUT_MS", 1000),
    # Password checks (about 30 ms of CPU each here) running at once per worker, and their
    # queue. Measured in the 8:00 wave at 6 students/s on one core: with 1, sign-ins queued
    # behind each other (p95 320 ms, pages p95 174 ms); with 2, p95 230 ms and pages 137 ms,
    # other pages 3-5 ms slower; 3 gained nothing more (bench/results/2026-11-25).
    "ADMISSION_LOGIN_IN_FLIGHT": env_int("KREIDE_ADMISSION_LOGIN_IN_FLIGHT", 2),
    "ADMISSION_LOGIN_QUEUE": env_int("KREIDE_ADMISSION_LOGIN_QUEUE", 16),
    "ADMISSION_HEAVY_IN_FLIGHT": env_int("KREIDE_ADMISSION_HEAVY_IN_FLIGHT", 1),
    "ADMISSION_HEAVY_QUEUE": env_int("KREIDE_ADMISSION_HEAVY_QUEUE", 2),
    # Base of the Retry-After answer in seconds; each answer adds up to as much again.
    "ADMISSION_RETRY_AFTER": env_int("KREIDE_ADMISSION_RETRY_AFTER", 2),
    # What nginx lets into Kreide at once, over all workers (`kreide nginx-config`), and the
    # part of it for requests without a session (sign-in form and sign-ins); beyond, nginx
    # answers 503 itself. 0: derived from the workers and the limits above.
    "FRONT_LIMIT": env_int("KREIDE_FRONT_LIMIT", 0),
    "FRONT_NEWCOMERS": env_int("KREIDE_FRONT_NEWCOMERS", 0),
    # Where nginx writes a line per refusal, for /status (default: DATA_DIR/front-refusals.log;
    # nginx's master process opens it, so nginx's worker user needs no rights there).
    "FRONT_REFUSAL_LOG": env_str("KREIDE_FRONT_REFUSAL_LOG"),
    # URL prefixes of heavy work, besides views marked with kreide.status.admission.heavy.
    "ADMISSION_HEAVY_PATHS": env_list("KREIDE_ADMISSION_HEAVY_PATHS", ["/transfer/"]),
    # Never queued: cheap, cache-only answers an operator needs most under load.
    "ADMISSION_EXEMPT_PATHS": ["/status", "/healthz", "/readyz", "/metrics", "/static/"],
    "ADMISSION_LOGIN_PATH": "/accounts/login/",
}


def value(name: str) -> Any:
    return getattr(settings, name, DEFAULTS[name])


def front_refusal_log() -> Path:
    return Path(value("FRONT_REFUSAL_LOG") or Path(settings.DATA_DIR) / "front-refusals.log")
