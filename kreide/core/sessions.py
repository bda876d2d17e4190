"""Sessions in the database, read through the cache (Django's `cached_db`), and safe
when Redis was away: a session saved, rotated or ended while Redis did not answer is
marked in the machine's file cache, so a Redis that comes back with its old copy (after
a freeze) does not bring back a signed-out session; the old copy is dropped instead."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.sessions.backends import cached_db
from django.contrib.sessions.backends.base import VALID_KEY_CHARS, CreateError
from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.db import IntegrityError, connections, router
from django.db.backends.base.base import BaseDatabaseWrapper

from kreide.core import cache as kreide_cache
from kreide.core.randomness import random_string


def _marker(session_key: str) -> str:
    return f"session-changed-while-away:{session_key}"


# Who reads keys of the default cache in the session's one round trip: session key ->
# the keys (kreide.accounts.keptuser: the versions of the user the session had here).
_read_with: list[Callable[[str], list[str]]] = []


def read_along(keys: Callable[[str], list[str]]) -> None:
    """Register `keys(session_key)`: keys of the default cache read with the session, in
    its one round trip. What was found is the store's `read_along` after its load (key ->
    value, None for a key not there); `read_along` is None where nothing was read along:
    no keys, no Redis, the breaker open, a failed read."""
    _read_with.append(keys)


# A new session's INSERT per database alias, written when first used (names from the model).
_INSERTS: dict[str, str] = {}


class SessionStore(cached_db.SessionStore):
    def __init__(self, session_key: str | None = None) -> None:
        super().__init__(session_key)
        self._riders: list[tuple[str, list]] = []
        self.read_along: dict[str, object] | None = None
        self._on_saved: list[Callable[[str], None]] = []

    def on_saved(self, callback: Callable[[str], None]) -> None:
        """`callback(session_key)` once the session is next saved: a new session (a
        sign-in's) has its key only then."""
        self._on_saved.append(callback)

    def write_on_creation(self, using: str, sql: str, params: list) -> bool:
        """For a session about to be created (a sign-in's, after the new key): run the
        data-modifying `sql` (a sign-in's last_login) when the session is written, in one
        statement with its INSERT on PostgreSQL — one round trip and one commit, not two.
        False, and nothing done, for a session that is not new or lives elsewhere: the
        caller runs `sql` itself. A response that saves no session (a 500) writes neither."""
        if self.session_key is not None or using != self._db:
            return False
        self._riders.append((sql, list(params)))
        return True

    def load(self) -> dict:
        self.read_along = None
        if not (settings.REDIS_URL and self.session_key and not kreide_cache.breaker.is_open):
            return super().load()
        local = caches["local"]
        if local.get(_marker(self.session_key)):
            trips = kreide_cache.breaker.trips
            self._cache.delete(self.cache_key)
            if kreide_cache.breaker.trips == trips:  # dropped: the database decides
                local.delete(_marker(self.session_key))
        along = [key for keys in _read_with for key in keys(self.session_key)]
        if not along or settings.SESSION_CACHE_ALIAS != DEFAULT_CACHE_ALIAS:
            return super().load()
        trips = kreide_cache.breaker.trips
        try:
            found = self._cache.get_many([self.cache_key, *along])
        except Exception:  # as cached_db's get: an unreadable key is no copy
            found = {}
        if kreide_cache.breaker.trips == trips and not kreide_cache.breaker.is_open:
            self.read_along = {key: found.get(key) for key in along}
        data = found.get(self.cache_key)
        # No copy in the cache (rare: sessions are copied there when saved): cached_db's own
        # load reads the row and copies it, for one more GET.
        return super().load() if data is None else data

    def save(self, must_create: bool = False) -> None:
        if self.session_key is None:
            self.create()  # comes back here with a new key and must_create
            return
        connection = connections[self._db]
        if must_create and not connection.in_atomic_block:
            self._insert()
        else:
            riders, self._riders = self._riders, []
            with connection.cursor() as cursor:
                for sql, params in riders:
                    cursor.execute(sql, params)
            super().save(must_create)
        self._mark_if_away(self.session_key)
        saved, self._on_saved = self._on_saved, []
        for callback in saved:
            callback(self.session_key)

    @property
    def _db(self) -> str:
        return router.db_for_write(self.model)

    def _insert(self) -> None:
        """A new session (each sign-in) in one INSERT: Django wraps it in BEGIN and COMMIT
        and builds the SQL each time, though one statement commits alone. A colliding key
        raises CreateError as in Django, and create() draws another."""
        using = self._db
        connection = connections[using]
        # The row's values as create_model_instance() gives them, without the model.
        values = [
            self.session_key,
            self.encode(self._get_session(no_load=True)),
            connection.ops.adapt_datetimefield_value(self.get_expiry_date()),
        ]
        insert = _INSERTS.get(using) or _INSERTS.setdefault(using, self._insert_sql(connection))
        try:
            with connection.cursor() as cursor:  # names from the model, values bound
                riders = self._riders
                if riders and connection.vendor == "postgresql":
                    # Data-modifying WITH: all or nothing, a colliding key undoes them too.
                    ahead = ", ".join(
                        f"w{number} AS ({sql})" for number, (sql, _) in enumerate(riders)
                    )
                    params = [param for _, rider_params in riders for param in rider_params]
                    cursor.execute(f"WITH {ahead} {insert}", params + values)
                else:  # SQLite has no data-modifying WITH
                    for sql, params in riders:
                        cursor.execute(sql, params)
                    self._riders = []
                    cursor.execute(insert, values)
                self._riders = []
        except IntegrityError as error:
            raise CreateError from error
        # What Django's cached_db does after the database.
        try:
            self._cache.set(self.cache_key, self._session, self.get_expiry_age())
        except Exception:
            cached_db.logger.exception("Error saving to cache (%s)", self._cache)

    def _insert_sql(self, connection: BaseDatabaseWrapper) -> str:
        meta, quote = self.model._meta, connection.ops.quote_name
        columns = ("session_key", "session_data", "expire_date")
        names = ", ".join(quote(meta.get_field(name).column) for name in columns)
        return f"INSERT INTO {quote(meta.db_table)} ({names}) VALUES (%s, %s, %s)"  # noqa: S608

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
        return random_string(32, VALID_KEY_CHARS)

    def delete(self, session_key: str | None = None) -> None:
        key = session_key or self.session_key
        super().delete(session_key)
        self._mark_if_away(key)

    def _mark_if_away(self, session_key: str | None) -> None:
        if settings.REDIS_URL and session_key and kreide_cache.breaker.is_open:
            caches["local"].set(_marker(session_key), 1, settings.SESSION_COOKIE_AGE)
