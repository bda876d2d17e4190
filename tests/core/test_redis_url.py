"""KREIDE_REDIS_URL with Sentinels (docs/scale-out.md); that the cache, the channel layer
and the real-time watcher follow a failover is shown in tests/faults/test_redis_failover.py."""

from __future__ import annotations

import pytest

from kreide.core import redis_url


def test_a_sentinel_url_names_the_sentinels_the_service_and_the_database():
    found = redis_url.sentinels(
        "redis+sentinel://:geheim%21@s1:26380,s2,10.0.0.3:26381/kreide/2?sentinel_password=wache"
    )
    assert found == redis_url.Sentinels(
        hosts=(("s1", 26380), ("s2", 26379), ("10.0.0.3", 26381)),
        service="kreide",
        db=2,
        password="geheim!",
        sentinel_password="wache",
    )
    assert redis_url.sentinels("redis+sentinel://s1/kreide").db == 0
    assert redis_url.sentinels("redis://127.0.0.1:6379/0") is None
    with pytest.raises(ValueError):
        redis_url.sentinels("redis+sentinel://s1:26379/")
