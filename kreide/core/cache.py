"""The cache helps; it is never a single point of failure.

Production talks to Redis through `BreakerConnection`: short socket timeouts (settings) and
a circuit breaker per process, so that after a failure Redis is not asked again for
BREAK_SECONDS; then one request probes it. django-redis runs with IGNORE_EXCEPTIONS, so
while Redis is away a read is a miss and a write is skipped: sessions load from the
database, fragments are computed. A limit must never become "no limit": `with_counters`
runs counting on the machine's own file cache while Redis is away.

The embedded default (no Redis) uses `FileCache` in the data directory, shared by all
worker processes of the machine, so sessions and sign-in throttles are the same in each.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import redis
from django.conf import settings
from django.core.cache import BaseCache, caches
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.filebased import FileBasedCache
from redis.sentinel import SentinelConnectionPool, SentinelManagedConnection

logger = logging.getLogger(__name__)
T = TypeVar("T")
BREAK_SECONDS = 5.0
_FAILURES = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)


class CircuitBreaker:
    """Closed: calls go through. After a failure it is open for `seconds`: calls fail at
    once. Then the first caller probes (others still fail fast) until an answer closes it."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.trips = 0
        self._lock = threading.Lock()
        self._open_until = 0.0

    @property
    def is_open(self) -> bool:
        return self._open_until != 0.0

    def allow(self) -> bool:
        if not self._open_until:
            return True
        with self._lock:
            now = time.monotonic()
            if not self._open_until:
                return True
            if now < self._open_until:
                return False
            self._open_until = now + self.seconds  # this caller is the probe
            return True

    def failed(self) -> None:
        with self._lock:
            if not self._open_until:
                self.trips += 1
                logger.warning("redis unreachable: skipped for %s s at a time", self.seconds)
            self._open_until = time.monotonic() + self.seconds

    def succeeded(self) -> None:
        if self._open_until:
            with self._lock:
                if self._open_until:
                    self._open_until = 0.0
                    logger.warning("redis answers again")


breaker = CircuitBreaker(BREAK_SECONDS)


class _BreakerMixin:
    """Makes a redis-py connection fail fast while the breaker is open and trip it on every
    connection error or timeout (django-redis makes them through the pools below)."""

    _connecting = False

    def _through_breaker(self, connect: Callable[..., T], *args, **kwargs) -> T:
        if self._connecting:  # asked already for this connection attempt
            return connect(*args, **kwargs)
        if not breaker.allow():
            raise redis.exceptions.ConnectionError("redis skipped after a recent failure")
        self._connecting = True
        try:
            return connect(*args, **kwargs)
        except _FAILURES:
            breaker.failed()
            raise
        finally:
            self._connecting = False

    def connect_check_health(self, *args, **kwargs):
        return self._through_breaker(super().connect_check_health, *args, **kwargs)

    def send_packed_command(self, command, check_health=True):
        # Unconnected, connecting asks the breaker (once, also for the handshake's
        # commands); connected, ask it here.
        if self._sock and not self._connecting and not breaker.allow():
            raise redis.exceptions.ConnectionError("redis skipped after a recent failure")
        try:
            return super().send_packed_command(command, check_health)
        except _FAILURES:
            breaker.failed()
            raise

    def read_response(self, *args, **kwargs):
        try:
            response = super().read_response(*args, **kwargs)
        except _FAILURES:
            breaker.failed()
            raise
        except redis.exceptions.ResponseError:
            # An error reply is an answer: the probe's handshake (CLIENT SETINFO, which a
            # Redis before 7.2 refuses) must close the breaker, or the probe's own command
            # is refused after it and the breaker never closes.
            breaker.succeeded()
            raise
        breaker.succeeded()
        return response


class BreakerConnection(_BreakerMixin, redis.connection.Connection):
    pass


class BreakerSentinelConnection(_BreakerMixin, SentinelManagedConnection):
    """Asks the Sentinels for the master on every new connection; the breaker is asked
    before that, so Sentinels that do not answer are skipped for a while like Redis
    (MasterNotFoundError is a ConnectionError)."""

    def _connect_retry(self):
        if self._sock:
            return None
        return self._through_breaker(super()._connect_retry)


class BreakerConnectionPool(redis.ConnectionPool):
    """The pool django-redis makes (CONNECTION_POOL_CLASS), of breaker connections."""

    def __init__(self, connection_class=BreakerConnection, **kwargs) -> None:
        super().__init__(connection_class=connection_class, **kwargs)


class BreakerSentinelConnectionPool(SentinelConnectionPool):
    """The same, for a master found through Sentinels (KREIDE_REDIS_URL=redis+sentinel://)."""

    def __init__(self, service_name, sentinel_manager, **kwargs) -> None:
        kwargs["connection_class"] = BreakerSentinelConnection
        super().__init__(service_name, sentinel_manager, **kwargs)


def shared_cache_problem() -> str | None:
    """None when Redis answers (or none is configured), else why not (for /readyz and the
    status sampler). Costs one PING, or nothing while the breaker is open."""
    if not settings.REDIS_URL:
        return None
    try:
        caches["default"].client.get_client(write=True).ping()
    except Exception as error:  # any failure is the answer
        return type(error).__name__
    return None


def health_check() -> str | None:
    """For /status: Redis answers (while it does not, pages come from the database)."""
    from kreide.core.health import NOT_CONFIGURED

    if not settings.REDIS_URL:
        return NOT_CONFIGURED  # the embedded file cache is part of the data directory
    return shared_cache_problem()


def with_counters(operation: Callable[[BaseCache], T]) -> T:
    """`operation(cache)` on the shared cache, or, while Redis is away (or fails during the
    operation), on this machine's file cache: a limit keeps counting per machine."""
    shared = caches["default"]
    if not settings.REDIS_URL:
        return operation(shared)
    if not breaker.is_open:
        trips = breaker.trips
        result = operation(shared)
        if breaker.trips == trips and not breaker.is_open:
            return result
    return operation(caches["local"])


class FileCache(FileBasedCache):
    """Django's file cache, with `add` and `incr` made atomic across the worker processes
    by a lock file (the base class reads, then writes), and the entry count checked at
    most every CULL_SECONDS per process instead of on every write (it lists the whole
    directory: 10 ms of a 12 ms write with 3,000 entries, bench/cache)."""

    CULL_SECONDS = 30.0
    _culled = 0.0

    def _cull(self) -> None:
        now = time.monotonic()
        if now - self._culled >= self.CULL_SECONDS:
            self._culled = now
            super()._cull()

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        os.makedirs(self._dir, 0o700, exist_ok=True)
        with open(os.path.join(self._dir, "lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        with self._exclusive():
            return super().add(key, value, timeout, version)

    def incr(self, key, delta=1, version=None):
        with self._exclusive():
            return super().incr(key, delta, version)
