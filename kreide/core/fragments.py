"""Cached parts of pages with invalidation by version keys: what every student loads at 8:00.

A fragment names the scopes it depends on (e.g. `school:3:news`, `group:17:tasks`); a write
that changes a scope calls `bump(scope)` (from a service function or an event handler) and
every fragment depending on it is recomputed on its next read. Versions are fetched in one
cache round trip; stale entries are never served, they simply expire.

    items = fragments.cached("news", [f"school:{school.pk}:news"], load_news, timeout=60)
    fragments.bump(f"school:{school.pk}:news")

Which rows feed which scopes is declared once per model, by the app that owns the scopes:

    fragments.feeds(VideoLesson, lambda lesson: [f"group:{lesson.group_id}:video"])
    fragments.feeds(Task.groups.through, lambda row: [f"group:{row.group_id}:tasks"])

and every save, delete or queryset `update()` of such a row bumps them after commit,
whoever writes it: a service, the operator's admin at /operator/, a script. For a
many-to-many table, `add()`/`set()`/`remove()`/`clear()` do too; a row deleted with the
row it belongs to sends nothing, so that row's own scopes must cover it (a task names its
groups' lists). `bulk_create()` sends no signals: who uses it calls `rows_changed(created)`.
A queryset `delete()` or `update()` (also `bulk_update()`) bumps each scope once, however
many rows it touches; `update()` sends no signal either, so a fed model's managers are
built on `FeedingQuerySet` (`feeds()` refuses one that is not).

Within a request (`RequestMemoMiddleware`) every version and entry is read from the cache
once: two sections of a page asking for the same scope or fragment cost one round trip, and
a `bump()` in the request updates what the request has seen. Nothing read is older than the
request; a value read twice is the same object, so callers treat values as read-only.

A page that knows its parts up front (the dashboard) reads all their versions and entries
in two round trips (`prefetch`, `prefetch_entries`), with Redis in one (`prefetch_with_page`
with `entries`), and writes what was missing in one (`batch`).

KREIDE_FRAGMENT_CACHE=false turns caching off (the benchmark's naive configuration).
"""

from __future__ import annotations

import contextvars
import logging
import pickle
import threading
import time
import weakref
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.db import models, transaction
from django.db.models.signals import m2m_changed, post_save, pre_delete
from django.http import HttpRequest, HttpResponse
from django_redis.compressors.identity import IdentityCompressor
from django_redis.serializers.pickle import PickleSerializer

from kreide.core import pagecache

T = TypeVar("T")
_MISSING = object()
logger = logging.getLogger(__name__)

# The request's reads, key → value (or _MISSING: asked, not in the cache). A context
# variable rather than a request attribute: the readers are services without the request.
_memo: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "kreide_fragment_memo", default=None
)


class RequestMemoMiddleware:
    """Versions and entries are read once per request (outside a request: every time)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _memo.set({})
        try:
            return self.get_response(request)
        finally:
            _memo.reset(token)


def _get_many(keys: list[str], others: Sequence[str] = ()) -> dict[str, Any]:
    """`cache.get_many(keys)`, asking only for keys this request has not read yet; with
    `others` (keys that are no fragment's, read in the same round trip, not memoised)
    what was found of them comes back too."""
    memo = _memo.get()
    if memo is None:
        return cache.get_many([*keys, *others]) if keys or others else {}
    unread = [key for key in keys if key not in memo]
    found = cache.get_many([*unread, *others]) if unread or others else {}
    memo.update((key, found.get(key, _MISSING)) for key in unread)
    return {
        **{key: memo[key] for key in keys if memo[key] is not _MISSING},
        **{key: found[key] for key in others if key in found},
    }


# Within `batch()`: the writes held back, timeout → {key: value}.
_held: contextvars.ContextVar[dict[int | None, dict[str, Any]] | None] = contextvars.ContextVar(
    "kreide_fragment_writes", default=None
)


def _set_many(values: dict[str, Any], timeout: int | None) -> None:
    held = _held.get()
    if held is not None:
        held.setdefault(timeout, {}).update(values)
    elif len(values) == 1:  # a SET rather than set_many's pipeline of one (~90 calls)
        ((key, value),) = values.items()
        cache.set(key, value, timeout)
    else:
        cache.set_many(values, timeout)
    memo = _memo.get()
    if memo is not None:
        memo.update(values)


def write(values: dict[str, Any], timeout: int | None) -> None:
    """`cache.set_many(values, timeout)`, with the writes of the `batch()` it is in."""
    _set_many(values, timeout)


class batch:
    """Hold back the versions and entries written inside it and write them in one round
    trip when it ends (a page whose parts each miss an entry on a first visit). Until then
    the request's memo has them; another request meanwhile misses them, as it would have
    before they were computed. `bump()` is never held back."""

    def __enter__(self) -> None:
        self._token = _held.set({})

    def __exit__(self, *_exc: object) -> None:
        held = _held.get() or {}
        _held.reset(self._token)
        if held:
            _write(held)


def _write(held: dict[int | None, dict[str, Any]]) -> None:
    """Every timeout's values in one round trip (Redis: one script, a single command to
    send and answer), else one set_many each."""
    client = getattr(cache, "client", None)
    prefix = _plain_prefix(client)
    if prefix is None or any(timeout is not None and timeout <= 0 for timeout in held):
        for timeout, values in held.items():
            cache.set_many(values, timeout)
        return
    keys: list[str] = []
    arguments: list[object] = []
    for timeout, values in held.items():
        milliseconds = "" if timeout is None else int(timeout * 1000)
        for key, value in values.items():
            keys.append(client.make_key(key))  # a CacheKey as it is (django-redis)
            arguments += [milliseconds, client.encode(value)]
    try:
        # No MULTI/EXEC semantics needed: each write stands alone (and is only a saving).
        redis = client.get_client(write=True)
        _script(redis, _SET_ALL)(keys=keys, args=arguments, client=redis)
    except Exception:  # the cache is only a saving, as with set_many's IGNORE_EXCEPTIONS
        logger.warning("fragment writes failed", exc_info=True)


# Each key of KEYS set to its value; ARGV: per key its milliseconds to live ('' for none)
# and its value as django-redis encodes it.
_SET_ALL = """
for i, key in ipairs(KEYS) do
  local milliseconds, value = ARGV[2 * i - 1], ARGV[2 * i]
  if milliseconds == '' then
    redis.call('SET', key, value)
  else
    redis.call('SET', key, value, 'PX', milliseconds)
  end
end
return #KEYS
"""
_scripts: dict[str, Any] = {}


def _script(redis: Any, source: str) -> Any:
    """The Lua script `source`, registered once a process (run by its SHA, loaded into a
    Redis that does not know it yet)."""
    script = _scripts.get(source)
    if script is None:
        script = _scripts[source] = redis.register_script(source)
    return script


def _plain_prefix(client: Any) -> str | None:
    """What django-redis puts before each key (with its default key function), for a
    script that names keys itself; None where the cache is not Redis or keys are made
    otherwise."""
    if not hasattr(client, "get_client"):
        return None
    prefix = client.make_key("")
    return prefix if client.make_key("fragver:") == prefix + "fragver:" else None


def prefetch(
    scopes: Iterable[str], *, create: bool = True, also: list[str] | None = None
) -> dict[str, Any] | None:
    """Read the versions of `scopes` into the request's memo in one round trip: for a page
    that knows up front which scopes its parts will read (no-op outside a request).
    `create=False` only reads: a missing version is set when a fragment asks for it, so
    scopes named from a request's address (that may not exist) leave nothing behind.
    `also`: other keys read in the same round trip (the page's own,
    `kreide.core.pagecache.unfetched`); what was found of them is returned (None when
    nothing was read: outside a request or with the fragment cache off)."""
    if not settings.FRAGMENT_CACHE_ENABLED or _memo.get() is None:
        return None
    keys = list(dict.fromkeys(_version_key(scope) for scope in scopes))
    others = [key for key in also or () if key not in keys]
    found = _get_many(keys, others)
    if create:
        _versions(keys)  # all read now: only sets the missing ones
    return {key: found[key] for key in others if key in found}


def _versions(keys: list[str]) -> tuple[dict[str, int], set[str]]:
    """The current versions of `keys`, a fresh one set for each that has none; and the
    keys set now: no entry was ever written under those, so none is worth asking for."""
    versions = _get_many(keys)
    missing = {key: time.time_ns() for key in keys if key not in versions}
    if missing:
        _set_many(missing, None)
        versions.update(missing)
    return versions, set(missing)


def prefetch_with_page(
    request: HttpRequest,
    scopes: Iterable[str],
    *,
    create: bool = True,
    entries: dict[str, list[str]] | None = None,
) -> list[str]:
    """`prefetch()` with the page's own keys (`kreide.core.pagecache`: the navigation's
    counts, the banners) in the same one round trip, handed to the page's `take()`s. Those
    keys are read even with the fragment cache off: the page's parts `put()` and `peek()`.
    `entries` (name → scopes, as for `prefetch_entries()`, their scopes read too): their
    entries with the versions in that one round trip where the cache is Redis (Redis
    makes their keys from the versions it reads), else in a second. Returns the names of
    `entries` found not to be cached (none outside a request or with the cache off)."""
    page_keys = pagecache.unfetched(request)
    scopes = [*scopes, *(scope for names in (entries or {}).values() for scope in names)]
    found = _prefetch_at_once(scopes, entries, page_keys) if entries else None
    missing: list[str] = []
    if found is None:
        found = prefetch(scopes, create=create, also=page_keys)
        if entries:
            prefetch_entries(entries)
            missing = _missing(entries)
    elif create:
        _versions(list(dict.fromkeys(_version_key(scope) for scope in scopes)))
        memo = _memo.get() or {}
        # The entries not read are those under a version set just now: none is cached.
        for name, names in entries.items():
            if memo.setdefault(_entry_key(name, names, memo), _MISSING) is _MISSING:
                missing.append(name)
    else:
        missing = _missing(entries)
    pagecache.fetched(request, page_keys, found)
    return missing


def _missing(scopes_of: dict[str, list[str]]) -> list[str]:
    """Of the fragments `scopes_of` (name → scopes), those the request read and found not
    cached."""
    memo = _memo.get()
    if not settings.FRAGMENT_CACHE_ENABLED or memo is None:
        return []
    return [
        name
        for name, scopes in scopes_of.items()
        if memo.get(_read_entry_key(name, scopes, memo)) is _MISSING
    ]


# The versions (KEYS, then the page's other keys) and the entries made of them, as
# `_entry_key()` makes them: ARGV is the key prefix, then per entry its name, its number of
# scopes and for each the position of its version in KEYS and the scope. An entry with a
# version missing is not read (it was never written under a version not yet set).
_AT_ONCE = """
local found = redis.call('MGET', unpack(KEYS))
local prefix, keys, i = ARGV[1], {}, 2
while i <= #ARGV do
  local name, count, parts = ARGV[i], tonumber(ARGV[i + 1]), {}
  for j = 1, count do
    local version = found[tonumber(ARGV[i + 2 * j])]
    if not version then parts = nil; break end
    parts[j] = ARGV[i + 2 * j + 1] .. '@' .. version
  end
  if parts then keys[#keys + 1] = prefix .. 'frag:' .. name .. ':' .. table.concat(parts, ':') end
  i = i + 2 + 2 * count
end
if #keys == 0 then return {found, keys, {}} end
return {found, keys, redis.call('MGET', unpack(keys))}
"""


def _prefetch_at_once(
    scopes: list[str], entries: dict[str, list[str]], others: list[str]
) -> dict[str, Any] | None:
    """`prefetch(scopes, also=others)` and `prefetch_entries(entries)` in one round trip
    (what was found of `others`), or None where that cannot be: not Redis (django-redis
    with its default key function), outside a request, a version read already, a failure."""
    memo = _memo.get()
    client = getattr(cache, "client", None)
    prefix = _plain_prefix(client)
    keys = list(dict.fromkeys(_version_key(scope) for scope in scopes))
    if not settings.FRAGMENT_CACHE_ENABLED or memo is None or prefix is None or not keys:
        return None
    if any(key in memo for key in keys):
        return None
    position = {key: index for index, key in enumerate(keys, 1)}  # Lua counts from 1
    arguments: list[object] = [prefix]
    for name, names in entries.items():
        arguments += [name, len(names)]
        for scope in names:
            arguments += [position[_version_key(scope)], scope]
    try:
        values, entry_keys, entry_values = _read_at_once(
            client, prefix, [*keys, *others], arguments
        )
    except Exception:  # the cache is only a saving: the two round trips then say so
        logger.warning("fragment versions and entries at once failed", exc_info=True)
        return None
    decode = _decoder(client)
    read = zip((*keys, *entry_keys), (*values[: len(keys)], *entry_values), strict=True)
    memo.update((key, _MISSING if value is None else decode(value)) for key, value in read)
    return {
        key: decode(value)
        for key, value in zip(others, values[len(keys) :], strict=True)
        if value is not None
    }


def _read_at_once(
    client: Any, prefix: str, keys: list[str], arguments: list[object]
) -> tuple[list[bytes | None], list[str], list[bytes | None]]:
    """The one round trip of `_AT_ONCE`: the values of `keys` (made as django-redis makes
    them: a CacheKey, another program's key, is taken as it is), the entries' keys it made
    (without `prefix`) and their values."""
    redis = client.get_client(write=False)
    values, entry_keys, entry_values = _script(redis, _AT_ONCE)(
        keys=[client.make_key(key) for key in keys], args=arguments, client=redis
    )
    return values, [key.decode()[len(prefix) :] for key in entry_keys], entry_values


def _decoder(client: Any) -> Callable[[bytes], Any]:
    """django-redis's `decode` without its detours where values are plain pickles and
    integers (its defaults): an integer is stored as its digits, a pickle starts with 0x80."""
    if not (
        type(client._serializer) is PickleSerializer
        and type(client._compressor) is IdentityCompressor
    ):
        return client.decode
    # What Kreide wrote into its own cache, as django-redis reads it.
    return lambda value: pickle.loads(value) if value[:1] == b"\x80" else int(value)  # noqa: S301


def prefetch_entries(scopes_of: dict[str, list[str]]) -> None:
    """After `prefetch()`: read the entries of the fragments `scopes_of` (name -> scopes,
    as `cached()` will be asked) into the request's memo in one round trip. A fragment
    whose versions are not all known yet is left to `cached()`."""
    memo = _memo.get()
    if not settings.FRAGMENT_CACHE_ENABLED or memo is None:
        return
    keys = []
    for name, scopes in scopes_of.items():
        versions = {
            _version_key(scope): memo.get(_version_key(scope), _MISSING) for scope in scopes
        }
        if _MISSING not in versions.values():
            keys.append(_entry_key(name, scopes, versions))
    if keys:
        _get_many(keys)


def fill(name: str, scopes: list[str], value: Any, timeout: int) -> None:
    """Cache `value` as the fragment `name` under the versions of `scopes` this request
    has read (as `cached()` would once it computed it): for a page that found out more
    cheaply what a fragment `prefetch_with_page()` found missing holds."""
    memo = _memo.get()
    key = None if memo is None else _read_entry_key(name, scopes, memo)
    if key is not None and settings.FRAGMENT_CACHE_ENABLED:
        _set_many({key: value}, timeout)


def _read_entry_key(name: str, scopes: list[str], memo: dict[str, Any]) -> str | None:
    """The fragment's key under the versions in `memo`; None while one is not known."""
    if any(memo.get(_version_key(scope), _MISSING) is _MISSING for scope in scopes):
        return None
    return _entry_key(name, scopes, memo)


def _version_key(scope: str) -> str:
    return f"fragver:{scope}"


def version_key(scope: str) -> str:
    """The cache key of `scope`'s version, for a page that reads it in a round trip of its
    own (`kreide.core.pagecache`) and keeps what depends on it per version."""
    return _version_key(scope)


def _entry_key(name: str, scopes: list[str], versions: dict[str, int]) -> str:
    """A fragment's cache key: its name and the versions of its scopes it was built at."""
    return f"frag:{name}:" + ":".join(
        f"{scope}@{versions[_version_key(scope)]}" for scope in scopes
    )


def bump(*scopes: str) -> None:
    """Invalidate every fragment that depends on one of `scopes`."""
    # A fresh timestamp rather than an increment: an evicted version key can never come
    # back with an old number and revive a stale fragment.
    values = {_version_key(scope): time.time_ns() for scope in scopes}
    cache.set_many(values, None)
    memo = _memo.get()
    if memo is not None:
        memo.update(values)


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


_Feed = Callable[[Any], Iterable[str]]
_feeds: dict[type[models.Model], list[_Feed]] = defaultdict(list)


def feeds(model: type[models.Model], scopes: _Feed) -> None:
    """Declare that each row of `model` feeds the cached `scopes(row)`. For a deleted row
    `scopes` is asked just before the delete, while its relations still exist. Its managers
    must be built on `FeedingQuerySet` (signals do not report `update()`)."""
    uid = f"fragments-{model._meta.label}"
    if model._meta.auto_created:  # a many-to-many table: Django reports only m2m_changed
        _feeds[model].append(scopes)
        m2m_changed.connect(_pairs_changed, sender=model, dispatch_uid=uid)
        return
    blind = [
        manager.name
        for manager in model._meta.managers
        if not issubclass(manager._queryset_class, FeedingQuerySet)
    ]
    if blind:
        raise ImproperlyConfigured(
            f"{model._meta.label} feeds cached fragments, but an update() through "
            f"{', '.join(blind)} would not bump them: build the manager on FeedingQuerySet."
        )
    _feeds[model].append(scopes)
    post_save.connect(_row_saved, sender=model, dispatch_uid=uid)
    pre_delete.connect(_row_deleting, sender=model, dispatch_uid=uid)


def is_fed_by(model: type[models.Model]) -> bool:
    return model in _feeds


def _scopes(rows: Iterable[models.Model]) -> set[str]:
    return {scope for row in rows for feed in _feeds.get(type(row), ()) for scope in feed(row)}


def rows_changed(rows: Iterable[models.Model]) -> None:
    """Bump every scope the rows feed (after commit)."""
    _deletion.origin = None
    bump_on_commit(*sorted(_scopes(rows)))


class _Deletion(threading.local):
    """The scopes the delete() under way has bumped. Django sends pre_delete for every row
    first, all with the same `origin` (the queryset or instance deleted), then deletes:
    each scope is bumped once, however many rows go. Any other write or a cached read ends
    the memo."""

    def __init__(self) -> None:
        self.origin: weakref.ReferenceType | None = None
        self.bumped: set[str] = set()


_deletion = _Deletion()


def _row_saved(sender: type[models.Model], instance: models.Model, **_kwargs: Any) -> None:
    rows_changed([instance])


def _row_deleting(
    sender: type[models.Model], instance: models.Model, origin: Any = None, **_kwargs: Any
) -> None:
    if origin is None:
        rows_changed([instance])
        return
    if _deletion.origin is None or _deletion.origin() is not origin:
        _deletion.origin, _deletion.bumped = weakref.ref(origin), set()
    scopes = _scopes([instance]) - _deletion.bumped
    _deletion.bumped |= scopes
    bump_on_commit(*sorted(scopes))


def _pairs_changed(
    sender: type[models.Model],
    instance: models.Model,
    action: str,
    reverse: bool,
    pk_set: set | None,
    **_kwargs: Any,
) -> None:
    """add(), set(), remove() and clear() on a fed many-to-many table, as the rows they
    insert or delete. (Its rows written directly, `through.objects`, send no signal.)"""
    # The table's two keys in order (from, to); a reverse call starts from the "to" side.
    keys = [f for f in sender._meta.concrete_fields if f.is_relation]
    own = next(f for f in (keys[::-1] if reverse else keys) if f.related_model is type(instance))
    other = next(f for f in keys if f is not own)
    if action in ("post_add", "post_remove") and pk_set:
        rows_changed(sender(**{own.attname: instance.pk, other.attname: pk}) for pk in pk_set)
    elif action == "pre_clear":
        rows_changed(sender._base_manager.filter(**{own.attname: instance.pk}))


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
    _deletion.origin = None
    scopes = list(scopes)
    versions, fresh = _versions([_version_key(scope) for scope in scopes])
    key = _entry_key(name, scopes, versions)
    value = _MISSING if fresh else _get_many([key]).get(key, _MISSING)
    if value is _MISSING:
        value = compute()
        _set_many({key: value}, timeout)
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
    _deletion.origin = None
    scopes_of = {name: list(scopes) for name, scopes in scopes_of.items()}
    keys = {_version_key(scope) for scopes in scopes_of.values() for scope in scopes}
    versions, fresh = _versions(list(keys))
    value_keys = {name: _entry_key(name, scopes, versions) for name, scopes in scopes_of.items()}
    found = _get_many(
        [
            key
            for name, key in value_keys.items()
            if not fresh.intersection(_version_key(scope) for scope in scopes_of[name])
        ]
    )
    values = {name: found[key] for name, key in value_keys.items() if key in found}
    absent = [name for name in scopes_of if name not in values]
    if absent:
        computed = compute(absent)
        _set_many({value_keys[name]: computed[name] for name in absent}, timeout)
        values.update((name, computed[name]) for name in absent)
    return values
