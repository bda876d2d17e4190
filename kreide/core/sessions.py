"""Sessions in the database, read through the cache (Django's `cached_db`), and safe
when Redis was away: a session saved, rotated or ended while Redis did not answer is
marked in the machine's file cache, so a Redis that comes back with its old copy (after
a freeze) does not bring back a signed-out session; the old copy is dropped instead."""

from __future__ import annotations

from django.conf import settings
from django.contrib.sessions.backends import cached_db
from django.contrib.sessions.backends.base import VALID_KEY_CHARS
from django.core.cache import caches
from django.utils.crypto import get_random_string

from kreide.core import cache as kreide_cache


def _marker(session_key: str) -> str:
    return f"session-changed-while-away:{session_key}"


class SessionStore(cached_db.SessionStore):
    def load(self) -> dict:
        if settings.REDIS_URL and self.session_key and not kreide_cache.breaker.is_open:
            local = caches["local"]
            if local.get(_marker(self.session_key)):
                trips = kreide_cache.breaker.trips
                self._cache.delete(self.cache_key)
                if kreide_cache.breaker.trips == trips:  # dropped: the database decides
                    local.delete(_marker(self.session_key))
        return super().load()

    def save(self, must_create: bool = False) -> None:
        if self.session_key is None:
            self.create()  # comes back here with a new key and must_create
            return
        super().save(must_create)
        self._mark_if_away(self.session_key)

    def cycle_key(self) -> None:
        """A new key (on sign-in) without writing the session twice: Django inserts a row
        with the old data here and updates it with the user at the end of the request;
        this only forgets the key, so the response's save inserts the row once, complete."""
        data = self._session
        key = self.session_key
        self._session_key = None
        self._session_cache = data
        self.modified = True
        if key:
            self.delete(key)

    def _get_new_session_key(self) -> str:
        """A random key without asking cache and database whether it exists: the row is
        inserted with must_create, and an insert that collides raises CreateError, upon
        which create() draws another key."""
        return get_random_string(32, VALID_KEY_CHARS)

    def delete(self, session_key: str | None = None) -> None:
        key = session_key or self.session_key
        super().delete(session_key)
        self._mark_if_away(key)

    def _mark_if_away(self, session_key: str | None) -> None:
        if settings.REDIS_URL and session_key and kreide_cache.breaker.is_open:
            caches["local"].set(_marker(session_key), 1, settings.SESSION_COOKIE_AGE)
