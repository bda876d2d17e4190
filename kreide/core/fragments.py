"""Cached parts of pages with invalidation by version keys: what every student loads at 8:00.

A fragment names the scopes it depends on (e.g. `school:3:news`, `group:17:tasks`); a write
that changes a scope calls `bump(scope)` (from a service function or an event handler) and
every fragment depending on it is recomputed on its next read. Versions are fetched in one
cache round trip; stale entries are never served, they simply expire.

    items = fragments.cached("news", [f"school:{school.pk}:news"], load_news, timeout=60)
    fragments.bump(f"school:{school.pk}:news")

Which rows feed which scopes is declared once per model, by the app that owns the scopes:

    fragments.feeds(VideoLesson, lambda lesson: [f"group:{lesson.group_id}:video"])

and every save, delete or queryset `update()` of such a row bumps them after commit,
whoever writes it: a service, the operator's admin at /operator/, a script.

KREIDE_FRAGMENT_CACHE=false turns caching off (the benchmark's naive configuration).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import models, transaction
from django.db.models.signals import post_delete, post_save

T = TypeVar("T")
_MISSING = object()


def _version_key(scope: str) -> str:
    return f"fragver:{scope}"


def bump(*scopes: str) -> None:
    """Invalidate every fragment that depends on one of `scopes`."""
    # A fresh timestamp rather than an increment: an evicted version key can never come
    # back with an old number and revive a stale fragment.
    cache.set_many({_version_key(scope): time.time_ns() for scope in scopes}, None)


def bump_on_commit(*scopes: str) -> None:
    """For write services: bump now and again once the transaction has committed.

    The second bump is the one that matters: a reader between the first bump and the
    commit may cache the old data under the new version. The first makes the change
    visible at once where nothing commits (tests inside one transaction).
    """
    if not scopes:
        return
    bump(*scopes)
    transaction.on_commit(lambda: bump(*scopes))


_feeds: dict[type[models.Model], list[Callable[[Any], Iterable[str]]]] = defaultdict(list)


def feeds(model: type[models.Model], scopes: Callable[[Any], Iterable[str]]) -> None:
    """Declare that each row of `model` feeds the cached `scopes(row)`."""
    _feeds[model].append(scopes)
    for signal in (post_save, post_delete):
        signal.connect(_row_changed, sender=model, dispatch_uid=f"fragments-{model._meta.label}")


def is_fed_by(model: type[models.Model]) -> bool:
    return model in _feeds


def rows_changed(rows: Iterable[models.Model]) -> None:
    """Bump every scope the rows feed (after commit)."""
    scopes = {scope for row in rows for feed in _feeds.get(type(row), ()) for scope in feed(row)}
    bump_on_commit(*sorted(scopes))


def _row_changed(sender: type[models.Model], instance: models.Model, **_kwargs: Any) -> None:
    rows_changed([instance])


class FeedingQuerySet(models.QuerySet):
    """`update()` bumps the scopes its rows fed before and feed after (signals do not fire
    for it)."""

    def update(self, **kwargs: Any) -> int:
        if not is_fed_by(self.model):
            return super().update(**kwargs)
        base = self.model._base_manager.using(self.db)
        keys = list(self.values_list("pk", flat=True))
        before = list(base.filter(pk__in=keys))
        count = super().update(**kwargs)
        rows_changed(before + list(base.filter(pk__in=keys)))
        return count


def cached(name: str, scopes: Iterable[str], compute: Callable[[], T], timeout: int = 300) -> T:
    """The value of `compute()`, cached until one of `scopes` is bumped or `timeout` passes."""
    if not settings.FRAGMENT_CACHE_ENABLED:
        return compute()
    scopes = list(scopes)
    keys = [_version_key(scope) for scope in scopes]
    versions = cache.get_many(keys)
    missing = {key: time.time_ns() for key in keys if key not in versions}
    if missing:
        cache.set_many(missing, None)
        versions.update(missing)
    key = f"frag:{name}:" + ":".join(
        f"{scope}@{versions[k]}" for scope, k in zip(scopes, keys, strict=True)
    )
    value = cache.get(key, _MISSING)
    if value is _MISSING:
        value = compute()
        cache.set(key, value, timeout)
    return value


def cached_many(
    scopes_of: dict[str, Iterable[str]],
    compute: Callable[[list[str]], dict[str, T]],
    timeout: int = 300,
) -> dict[str, T]:
    """Several fragments at once: `scopes_of` maps each name to its scopes; `compute(names)`
    returns the values of the names not cached (all of them in one go, e.g. one query for
    many groups). Two cache round trips when everything is cached (versions, values)."""
    if not settings.FRAGMENT_CACHE_ENABLED:
        return compute(list(scopes_of)) if scopes_of else {}
    scopes_of = {name: list(scopes) for name, scopes in scopes_of.items()}
    keys = {_version_key(scope) for scopes in scopes_of.values() for scope in scopes}
    versions = cache.get_many(list(keys)) if keys else {}
    missing = {key: time.time_ns() for key in keys if key not in versions}
    if missing:
        cache.set_many(missing, None)
        versions.update(missing)
    value_keys = {
        name: f"frag:{name}:"
        + ":".join(f"{scope}@{versions[_version_key(scope)]}" for scope in scopes)
        for name, scopes in scopes_of.items()
    }
    found = cache.get_many(list(value_keys.values())) if value_keys else {}
    values = {name: found[key] for name, key in value_keys.items() if key in found}
    absent = [name for name in scopes_of if name not in values]
    if absent:
        computed = compute(absent)
        cache.set_many({value_keys[name]: computed[name] for name in absent}, timeout)
        values.update((name, computed[name]) for name in absent)
    return values
