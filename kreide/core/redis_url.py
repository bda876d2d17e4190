"""KREIDE_REDIS_URL names one Redis server, or the Sentinels that know which server is the
master (docs/scale-out.md):

    redis://[:password@]host:port/db
    redis+sentinel://[:password@]host:port[,host:port…]/service[/db][?sentinel_password=…]

With Sentinels, the cache (django-redis), the channel layer (channels_redis) and the
real-time process's watcher ask them for the master and ask again after a connection
fails, so they follow a failover by themselves. Read by settings: no Django imports here.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

import redis.asyncio
from redis.asyncio.sentinel import Sentinel as AsyncSentinel

SCHEME = "redis+sentinel"
SENTINEL_PORT = 26379


@dataclass(frozen=True)
class Sentinels:
    hosts: tuple[tuple[str, int], ...]
    service: str
    db: int
    password: str | None  # the Redis servers'
    sentinel_password: str | None

    def sentinel_kwargs(self, timeout: float) -> dict:
        """For the connections to the Sentinels themselves."""
        kwargs = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
        if self.sentinel_password:
            kwargs["password"] = self.sentinel_password
        return kwargs


def sentinels(url: str) -> Sentinels | None:
    """The Sentinel set-up a `redis+sentinel://` URL names; None for a plain Redis URL."""
    parts = urlsplit(url)
    if parts.scheme != SCHEME:
        return None
    credentials, _, netloc = parts.netloc.rpartition("@")
    hosts = []
    for address in netloc.split(","):
        host, _, port = address.partition(":")
        hosts.append((host, int(port) if port else SENTINEL_PORT))
    service, _, db = parts.path.strip("/").partition("/")
    if not hosts[0][0] or not service:
        raise ValueError(f"{SCHEME}:// needs Sentinels and a service name: {url}")
    query = parse_qs(parts.query)
    return Sentinels(
        hosts=tuple(hosts),
        service=service,
        db=int(db or 0),
        password=unquote(credentials.partition(":")[2]) or None,
        sentinel_password=query.get("sentinel_password", [None])[0],
    )


def async_client(url: str, timeout: float) -> redis.asyncio.Redis:
    """An asyncio client of the master `url` names (the real-time process's watcher)."""
    found = sentinels(url)
    if found is None:
        return redis.asyncio.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
    manager = AsyncSentinel(list(found.hosts), sentinel_kwargs=found.sentinel_kwargs(timeout))
    return manager.master_for(
        found.service,
        db=found.db,
        password=found.password,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
    )
