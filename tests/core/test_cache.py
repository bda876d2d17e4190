"""The cache as a help, never a single point of failure: the circuit breaker, the fast
failing Redis connection and the counters' fallback to the machine's file cache."""

from __future__ import annotations

import cProfile
import os
import pstats
from urllib.parse import urlsplit

import pytest
import redis
from django.core.cache import caches
from redis.sentinel import Sentinel

from kreide.core import cache as kreide_cache
from kreide.core.cache import (
    BreakerConnection,
    BreakerConnectionPool,
    BreakerSentinelConnectionPool,
    CircuitBreaker,
    with_counters,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(kreide_cache.time, "monotonic", clock)
    return clock


def test_breaker_opens_on_failure_and_lets_one_probe_through_later(clock):
    breaker = CircuitBreaker(5)
    assert breaker.allow()
    breaker.failed()
    assert breaker.is_open and breaker.trips == 1
    assert not breaker.allow()
    clock.now += 5
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # everyone else waits for its answer
    breaker.succeeded()
    assert not breaker.is_open and breaker.allow()


def test_a_probe_that_fails_keeps_it_open_without_counting_a_new_trip(clock):
    breaker = CircuitBreaker(5)
    breaker.failed()
    clock.now += 5
    assert breaker.allow()
    breaker.failed()
    assert breaker.trips == 1 and not breaker.allow()


def _unused_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_redis_is_not_asked_again_while_the_breaker_is_open(monkeypatch):
    breaker = CircuitBreaker(60)
    monkeypatch.setattr(kreide_cache, "breaker", breaker)
    attempts = []
    original = BreakerConnection._connect

    def counting(self):
        attempts.append(1)
        return original(self)

    monkeypatch.setattr(BreakerConnection, "_connect", counting)
    pool = redis.ConnectionPool(
        connection_class=BreakerConnection, host="127.0.0.1", port=_unused_port()
    )
    client = redis.Redis(connection_pool=pool)
    for _ in range(5):
        with pytest.raises(redis.exceptions.ConnectionError):
            client.get("key")
    assert len(attempts) == 1 and breaker.is_open


def test_a_probe_that_reaches_redis_closes_the_breaker_and_is_served(settings, monkeypatch, clock):
    """The probe's new connection asks the breaker; Redis answering its handshake (database
    0: no SELECT; a Redis before 7.2 answers CLIENT SETINFO with an error) closes it, so
    the probe's own command goes through instead of keeping the breaker open for good."""
    url = urlsplit(settings.REDIS_URL or "")
    if url.scheme != "redis":
        pytest.skip("needs a plain redis:// server")
    breaker = CircuitBreaker(5)
    monkeypatch.setattr(kreide_cache, "breaker", breaker)
    breaker.failed()
    clock.now += 5
    pool = BreakerConnectionPool(host=url.hostname, port=url.port or 6379, db=0)
    assert redis.Redis(connection_pool=pool).ping()
    assert not breaker.is_open
    pool.disconnect()


def test_counters_go_to_the_local_cache_while_redis_is_away(settings, monkeypatch):
    breaker = CircuitBreaker(60)
    monkeypatch.setattr(kreide_cache, "breaker", breaker)
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    caches["local"].delete("counted")
    breaker.failed()

    def count(cache) -> int:
        cache.add("counted", 0)
        return cache.incr("counted")

    assert [with_counters(count) for _ in range(3)] == [1, 2, 3]
    assert caches["local"].get("counted") == 3
    caches["local"].delete("counted")


def test_file_cache_counts_exactly_across_threads(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from kreide.core.cache import FileCache

    shared = FileCache(str(tmp_path), {})
    shared.add("n", 0)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: shared.incr("n"), range(200)))
    assert shared.get("n") == 200


@pytest.mark.django_db
def test_a_session_ended_while_redis_was_away_is_not_revived_by_its_old_copy(settings, monkeypatch):
    from django.core.cache import cache

    from kreide.core.sessions import SessionStore

    breaker = CircuitBreaker(60)
    monkeypatch.setattr(kreide_cache, "breaker", breaker)
    settings.REDIS_URL = settings.REDIS_URL or "redis://127.0.0.1:1/0"
    store = SessionStore()
    store["who"] = "anna"
    store.create()
    old_copy = cache.get(store.cache_key)

    breaker.failed()  # Redis frozen: signing out reaches only the database
    SessionStore(store.session_key).delete()
    breaker.succeeded()
    cache.set(store.cache_key, old_copy)  # Redis thaws with the old copy

    assert SessionStore(store.session_key).load() == {}
    assert cache.get(store.cache_key) is None


def test_sentinels_that_do_not_answer_are_not_asked_again_while_the_breaker_is_open(monkeypatch):
    """KREIDE_REDIS_URL=redis+sentinel://: finding the master is part of connecting, so
    Sentinels that are away trip the breaker like Redis itself."""
    breaker = CircuitBreaker(60)
    monkeypatch.setattr(kreide_cache, "breaker", breaker)
    sentinel = Sentinel([("127.0.0.1", _unused_port())], socket_timeout=0.5)
    asked = []
    original = sentinel.discover_master
    monkeypatch.setattr(
        sentinel, "discover_master", lambda name: asked.append(name) or original(name)
    )
    client = redis.Redis(connection_pool=BreakerSentinelConnectionPool("kreide", sentinel))
    for _ in range(5):
        with pytest.raises(redis.exceptions.ConnectionError):
            client.get("key")
    assert asked == ["kreide"] and breaker.is_open


def test_a_cache_command_costs_the_redis_client_few_python_calls(settings):
    """Every page makes 1 to 4 cache round trips: redis-py 7.0 spends ~40 of its own Python
    calls on one, 7.4 to 8.2 ~75-90 (disabled OpenTelemetry hooks looked up several times
    per command, argument checks). Fails on an upgrade that brings them back."""
    if not settings.REDIS_URL:
        pytest.skip("the embedded file cache has no Redis client")
    cache = caches["default"]
    cache.set("calls-probe", 1, 60)
    cache.get_many(["calls-probe", "calls-absent"])
    own = os.path.dirname(redis.__file__) + os.sep
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(10):
        cache.get("calls-probe")
        cache.get_many(["calls-probe", "calls-absent"])
        cache.set("calls-probe", 1, 60)
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # (file, line, name) -> (.., calls, ..)
    calls = sum(row[1] for (file, _, _), row in stats.items() if file.startswith(own))
    assert 0 < calls / 30 <= 50
    cache.delete("calls-probe")
