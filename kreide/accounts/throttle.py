"""Sign-in rate limiting: temporary lockout per account and per network address.

Counters live in the cache (Redis in production), so every worker sees the same counts
and a locked-out storm costs no database query and no password hash.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache


@dataclass(frozen=True)
class Lockout:
    seconds_left: int

    @property
    def minutes_left(self) -> int:
        return max(1, -(-self.seconds_left // 60))


def _key(kind: str, value: str) -> str:
    digest = hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]
    return f"login:{kind}:{digest}"


def _subjects(identifier: str, address: str) -> list[tuple[str, int]]:
    return [
        (_key("account", identifier), settings.LOGIN_FAILURES_PER_ACCOUNT),
        (_key("address", address or "unknown"), settings.LOGIN_FAILURES_PER_ADDRESS),
    ]


def current_lockout(identifier: str, address: str) -> Lockout | None:
    now = time.time()
    locks = cache.get_many([f"{key}:until" for key, _ in _subjects(identifier, address)])
    remaining = [until - now for until in locks.values() if until and until > now]
    return Lockout(int(max(remaining)) + 1) if remaining else None


def record_failure(identifier: str, address: str) -> Lockout | None:
    """Count a failed attempt; returns the lockout it caused, if any."""
    window = settings.LOGIN_LOCKOUT_SECONDS
    lockout = None
    for key, limit in _subjects(identifier, address):
        cache.add(key, 0, timeout=window)
        try:
            failures = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=window)
            failures = 1
        if failures >= limit:
            cache.set(f"{key}:until", time.time() + window, timeout=window)
            cache.delete(key)
            lockout = Lockout(window)
    return lockout


def record_success(identifier: str) -> None:
    key = _key("account", identifier)
    cache.delete_many([key, f"{key}:until"])
