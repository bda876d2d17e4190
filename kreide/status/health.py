"""Health checks of each module, run by the sampler (`kreide status-sample`), never by a page.

A check returns None when the module works, else a short reason. The result goes to the
cache and the snapshot file, where the status page reads it.
"""

from __future__ import annotations

import asyncio
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from kreide.status import services

MODULES = ("login", "tasks", "files", "messenger", "video", "mail")
# A check's answer for a module this deployment does not use: the status page leaves it out.
NOT_CONFIGURED = "not configured"
SAMPLE_SECONDS = 30
# Older than this, the status page says "unknown" instead of trusting the last sample.
STALE_SECONDS = 3 * SAMPLE_SECONDS


def _tables_answer(app_label: str) -> str | None:
    """The database answers for the module's tables (one cheap query each)."""
    for model in apps.get_app_config(app_label).get_models():
        # The base manager is Django's plain one: no school scope needed to probe a table.
        list(model._base_manager.values_list("pk", flat=True)[:1])
    return None


def _writable(directory: Path) -> str | None:
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=directory, prefix=".health-"):
        pass
    return None


def check_login() -> str | None:
    _tables_answer("accounts")
    cache.set("status:probe", 1, 10)
    return None if cache.get("status:probe") == 1 else "cache"


def check_tasks() -> str | None:
    return _tables_answer("tasks")


def check_files() -> str | None:
    _tables_answer("files")
    return _writable(Path(settings.STORAGE_DIR))


def check_messenger() -> str | None:
    """A message round trip through the channel layer the real-time process uses."""
    from channels.layers import get_channel_layer

    async def round_trip() -> bool:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "health.probe"})
        received = await asyncio.wait_for(layer.receive(channel), timeout=3)
        return received.get("type") == "health.probe"

    _tables_answer("messenger")
    return None if asyncio.run(round_trip()) else "channel layer"


def check_video() -> str | None:
    """Asks every registered media server; this also renews the video banner's cached state."""
    from kreide.video import services as video

    video.sync_configured_servers()
    state = video.check_servers()
    return {"ok": None, "unconfigured": NOT_CONFIGURED}.get(state, "media servers down")


def check_mail() -> str | None:
    """The school e-mail's servers when Kreide runs them, else how Kreide's own mails leave."""
    from kreide.mail import health

    problem = health.problem()
    if problem != "not configured":
        return problem
    if not settings.EMAIL_HOST:
        return NOT_CONFIGURED  # mail only goes to files in DATA_DIR: nothing is sent
    with socket.create_connection((settings.EMAIL_HOST, settings.EMAIL_PORT), timeout=3):
        return None


CHECKS: dict[str, Callable[[], str | None]] = {
    "login": check_login,
    "tasks": check_tasks,
    "files": check_files,
    "messenger": check_messenger,
    "video": check_video,
    "mail": check_mail,
}


def run_checks() -> dict[str, Any]:
    modules = {}
    for name in MODULES:
        started = time.perf_counter()
        try:
            # A savepoint per check: one failing query must not fail the checks after it.
            with transaction.atomic():
                problem = CHECKS[name]()
        except Exception as error:  # a failing check is the answer, not a crash
            problem = type(error).__name__
        modules[name] = {
            "ok": problem is None or problem == NOT_CONFIGURED,
            "problem": problem or "",
            "ms": round((time.perf_counter() - started) * 1000, 1),
        }
    return {"at": timezone.now().timestamp(), "modules": modules}


def sample() -> dict[str, Any]:
    """One sampling round: module health and the incident list, into cache and file."""
    health = run_checks()
    cache.set(services.HEALTH_KEY, health, None)
    services.write_snapshot(health=health)
    services.publish_incidents()
    return health
