"""The signed-in user kept per process, checked on every request against versions read in
the session's one Redis round trip.

Every signed-in request loaded its user and the user's school (one prepared query, ~340
Python calls). A process keeps the user as it was loaded and gives each request a copy of
its own while the versions of the user's row and the school's row are the ones it was
loaded under: fragments' version keys (`user:<pk>`, `school:<pk>:row`), bumped after
commit by every save, delete and queryset `update()` (also `bulk_update()`) of either,
whoever writes it (accounts.apps declares them with `fragments.feeds`). The versions are
read with the session (`kreide.core.sessions.read_along`): a process remembers whose each
session it has seen is, so from a session's second request in a process its versions ride
along, and from the third its user is a copy (in the process that signed it in: from its
first page, and a copy from the second).

The versions are read before the row: a write committed after the row was read bumps
after that, so the next request sees a new version. A version missing (never bumped,
evicted) is set only if none is set meanwhile (`add`): a writer's bump always wins.

Not kept, loaded from the database as before: where the versions cannot be read (the
embedded default, whose cache is not shared by Redis; Redis away: the breaker open, and
then the table is dropped, so nothing loaded before an outage is trusted after it; the
fragment cache switched off), the real-time process (its consumers load the user
themselves). A bump lost while Redis was away in the writer's process is outlived by
KEEP_SECONDS at most. The one write that bumps nothing is a sign-in's `last_login` (raw
SQL, the first sign-in of a day): a load from the database for a session a process has
not seen drops the entry it had, so the new session's user is read after that write.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Model
from django.db.models.base import ModelState

from kreide.core import cache as kreide_cache
from kreide.core import fragments

KEEP_SECONDS = 300.0
_LIMIT = 20_000  # users (and sessions) a process keeps; a full table starts over


def user_scope(pk: int) -> str:
    return f"user:{pk}"


def school_scope(pk: int) -> str:
    return f"school:{pk}:row"


class KeptUsers:
    """One process's table (tests stand two processes side by side with two of them)."""

    def __init__(self) -> None:
        # session key -> (user pk, school pk) of the session's user at its last load here
        self.sessions: dict[str, tuple[int, int | None]] = {}
        # user pk -> (when kept, versions it was loaded under, the user; never handed out)
        self.users: dict[int, tuple[float, tuple[int, ...], Any]] = {}


_process = KeptUsers()

# The session whose user the request is loading (`reading()`, around Django's get_user).
_reading: contextvars.ContextVar[Any] = contextvars.ContextVar("kreide_kept_user", default=None)


def _enabled() -> bool:
    return bool(settings.REDIS_URL) and settings.FRAGMENT_CACHE_ENABLED


def _keys(pk: int, school_pk: int | None) -> list[str]:
    keys = [fragments.version_key(user_scope(pk))]
    if school_pk is not None:
        keys.append(fragments.version_key(school_scope(school_pk)))
    return keys


def keys_for_session(session_key: str) -> list[str]:
    """For the session store: the versions to read with this session (none for a session
    this process has not seen)."""
    if not _enabled():
        return []
    seen = _process.sessions.get(session_key)
    return _keys(*seen) if seen else []


@contextlib.contextmanager
def reading(session: Any) -> Iterator[None]:
    """Around the load of `session`'s user: `kept()` and `keep()` answer for it."""
    token = _reading.set(session)
    try:
        yield
    finally:
        _reading.reset(token)


def kept(pk: int) -> Any | None:
    """A copy of the user `pk` as kept, if its versions read with the session are the ones
    it was loaded under; else None (load it)."""
    session = _reading.get()
    if session is None or not _enabled():
        return None
    along = getattr(session, "read_along", None)  # None: another session engine
    if along is None:
        if kreide_cache.breaker.is_open:
            _process.users.clear()
        return None
    entry = _process.users.get(pk)
    if entry is None:
        return None
    at, versions, user = entry
    if time.monotonic() - at > KEEP_SECONDS:
        return None
    if versions != tuple(along.get(key) for key in _keys(pk, user.school_id)):
        return None
    return _twin(user)


def keep(user: Any) -> None:
    """After `user` was loaded from the database for the session being read."""
    session = _reading.get()
    if session is None or not _enabled() or session.session_key is None:
        return
    table = _process
    _learn(session.session_key, user.pk, user.school_id)
    along = getattr(session, "read_along", None)  # None: another session engine
    if along is None:  # not read with the session: nothing to keep it under
        table.users.pop(user.pk, None)
        return
    versions = []
    for key in _keys(user.pk, user.school_id):
        version = along.get(key)
        if version is None:
            version = time.time_ns()  # as fragments set a missing version
            if not cache.add(key, version, None):  # set meanwhile (or Redis away)
                table.users.pop(user.pk, None)
                return
        versions.append(version)
    if len(table.users) >= _LIMIT:
        table.users.clear()
    table.users[user.pk] = (time.monotonic(), tuple(versions), _twin(user))


def learn_at_sign_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """`user_logged_in`: the new session's versions ride along from its first page in
    this process (its user is kept there, a copy from the second). The entry kept for
    another session goes: the sign-in's last_login bumps nothing."""
    on_saved = getattr(getattr(request, "session", None), "on_saved", None)
    if on_saved is None or not _enabled():
        return
    _process.users.pop(user.pk, None)
    pk, school_pk = user.pk, user.school_id
    on_saved(lambda session_key: _learn(session_key, pk, school_pk))


def _learn(session_key: str, pk: int, school_pk: int | None) -> None:
    sessions = _process.sessions
    if len(sessions) >= _LIMIT:
        sessions.clear()
    sessions[session_key] = (pk, school_pk)


def _twin(instance: Model) -> Any:
    """A copy of `instance` and of the rows cached on it (the user's school) that shares
    nothing another request could change: its fields' values are immutable."""
    twin = instance.__class__.__new__(instance.__class__)
    twin.__dict__.update(instance.__dict__)
    state = twin._state = ModelState()
    state.db, state.adding = instance._state.db, False
    cached = instance._state.__dict__.get("fields_cache")
    if cached:
        state.fields_cache = {
            name: None if row is None else _twin(row) for name, row in cached.items()
        }
    return twin
