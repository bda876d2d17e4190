"""Sign-in works when the accounts' tables and the cache (lockout, sessions) answer."""

from django.core.cache import cache

from kreide.core import health


def check() -> str | None:
    health.tables_answer("accounts")
    cache.set("status:probe", 1, 10)
    return None if cache.get("status:probe") == 1 else "cache"
