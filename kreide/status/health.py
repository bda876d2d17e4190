"""The sampler (`kreide status-sample`) runs every module's registered health check
(kreide.core.health), never a page; the result goes to the cache and the snapshot file,
where the status page reads it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from kreide.core import health as core_health
from kreide.status import services

SAMPLE_SECONDS = 30
# Older than this, the status page says "unknown" instead of trusting the last sample.
STALE_SECONDS = 3 * SAMPLE_SECONDS
# While a module is down, this often its check alone is asked whether it is back.
RECHECK_SECONDS = 2


def _problem(check: core_health.Check) -> str | None:
    try:
        # A savepoint per check: one failing query must not fail the checks after it.
        with transaction.atomic():
            return check.run()
    except Exception as error:  # a failing check is the answer, not a crash
        return type(error).__name__


def run_checks() -> dict[str, Any]:
    modules = {}
    for check in core_health.registered():
        started = time.perf_counter()
        problem = _problem(check)
        modules[check.key] = {
            "ok": problem is None or problem == core_health.NOT_CONFIGURED,
            "problem": problem or "",
            "ms": round((time.perf_counter() - started) * 1000, 1),
        }
    # Which node sampled: one per deployment (kreide.core.leader), shown for operators.
    return {"at": timezone.now().timestamp(), "node": settings.NODE_NAME, "modules": modules}


def sample() -> dict[str, Any]:
    """One sampling round: module health and the incident list, into cache and file."""
    health = run_checks()
    cache.set(services.HEALTH_KEY, health, None)
    services.write_snapshot(health=health)
    services.publish_incidents()
    return health


def wait_for_next_round(
    last: dict[str, Any] | None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> bool:
    """Wait SAMPLE_SECONDS for the next round, but end the wait as soon as a module that
    was down in the `last` sample answers again (True then: sample now): when Redis comes
    back, /status says so within seconds instead of showing the outage for half a minute."""
    modules = (last or {}).get("modules", {})
    down = [
        check
        for check in core_health.registered()
        if not modules.get(check.key, {}).get("ok", True)
    ]
    deadline = clock() + SAMPLE_SECONDS
    while (remaining := deadline - clock()) > 0:
        if not down:
            sleep(remaining)
            break
        sleep(min(RECHECK_SECONDS, remaining))
        if any(_problem(check) in (None, core_health.NOT_CONFIGURED) for check in down):
            return True
    return False
