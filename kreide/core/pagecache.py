"""Cache keys every page reads while it renders (the navigation's counts, the banners, the
live bell's setting), fetched in one round trip instead of one each.

Modules register which of their keys a request will read (in AppConfig.ready()); the
first `take()` of a request fetches all of them with one `get_many`. Each fetched value
is handed out once: a later read of the same key (a second render in the same request,
after a write) goes to the cache again, so nothing is served older than the page's
first render.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from django.http import HttpRequest

_ATTRIBUTE = "_kreide_page_cache"
_MISSING = object()
_key_makers: list[Callable[[HttpRequest], list[str]]] = []


def register(keys_of: Callable[[HttpRequest], list[str]]) -> None:
    """`keys_of(request)` names the keys this module will `take()` on that request."""
    if keys_of not in _key_makers:
        _key_makers.append(keys_of)


def user_keys(key_of: Callable[[int], str]) -> Callable[[HttpRequest], list[str]]:
    """A `register()` argument for a key of the signed-in user of a school."""

    def keys_of(request: HttpRequest) -> list[str]:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or user.school_id is None:
            return []
        return [key_of(user.pk)]

    return keys_of


def take(request: HttpRequest | None, key: str, default: Any = None) -> Any:
    """The cached value of `key` (or `default`), from the request's one round trip when
    `key` was registered for it and not taken yet, else from the cache itself."""
    if request is None:
        return cache.get(key, default)
    pending = getattr(request, _ATTRIBUTE, None)
    if pending is None:
        keys = [key for keys_of in _key_makers for key in keys_of(request)]
        # Missing keys are marked so they are not asked for a second time.
        pending = dict.fromkeys(keys, _MISSING)
        pending.update(cache.get_many(keys) if keys else {})
        setattr(request, _ATTRIBUTE, pending)
    if key not in pending:
        return cache.get(key, default)
    value = pending.pop(key)
    return default if value is _MISSING else value
