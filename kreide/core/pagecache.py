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


def unfetched(request: HttpRequest) -> list[str]:
    """The keys the request's first `take()` would fetch, for a page that reads them in a
    round trip of its own (the dashboard's, with its fragment versions) and hands them
    over with `fetched()`; none once they are fetched."""
    if getattr(request, _ATTRIBUTE, None) is not None:
        return []
    return [key for keys_of in _key_makers for key in keys_of(request)]


def fetched(request: HttpRequest, keys: list[str], found: dict[str, Any] | None) -> None:
    """`found` of `keys` (as `cache.get_many(keys)` returned it) for the `take()`s; None:
    they were not read after all, and are now (a page's parts `put()` and `peek()`)."""
    if getattr(request, _ATTRIBUTE, None) is not None:
        return
    if found is None:
        found = cache.get_many(keys) if keys else {}
    # Missing keys are marked so they are not asked for a second time.
    pending = dict.fromkeys(keys, _MISSING)
    pending.update((key, found[key]) for key in keys if key in found)
    setattr(request, _ATTRIBUTE, pending)


def _pending(request: HttpRequest) -> dict[str, Any]:
    fetched(request, unfetched(request), None)
    return getattr(request, _ATTRIBUTE)


def take(request: HttpRequest | None, key: str, default: Any = None) -> Any:
    """The cached value of `key` (or `default`), from the request's one round trip when
    `key` was registered for it and not taken yet, else from the cache itself."""
    if request is None:
        return cache.get(key, default)
    pending = _pending(request)
    if key not in pending:
        return cache.get(key, default)
    value = pending.pop(key)
    return default if value is _MISSING else value


def peek(request: HttpRequest, key: str, default: Any = None) -> Any:
    """As `take()`, but leaves the value for the `take()` of the page's later part (a
    dashboard section reading what the page's banner reads after it)."""
    pending = _pending(request)
    if key not in pending:
        return cache.get(key, default)
    value = pending[key]
    return default if value is _MISSING else value


def put(request: HttpRequest, key: str, value: Any) -> None:
    """A value of `key` the request has just computed and written: its later `take()`
    gets it rather than what the round trip found before the write."""
    pending = getattr(request, _ATTRIBUTE, None)
    if pending is not None and key in pending:
        pending[key] = value
