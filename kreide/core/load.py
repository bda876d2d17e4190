"""Current load, counted in each worker process and shared through the cache.

Counting costs a lock and an addition per request; every few seconds a worker adds its
counts to per-minute buckets in the cache and publishes its requests in flight. The
health sampler and the status page read only these cache keys.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from pathlib import Path

from django.core.cache import cache

logger = logging.getLogger(__name__)
FLUSH_SECONDS = 5.0
BUCKET_TTL = 3 * 60 * 60
WORKER_TTL = 60
WORKERS_KEY = "status:workers"
WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"

_lock = threading.Lock()
_in_flight = 0
_pending = {"completed": 0, "shed": 0, "ms": 0}
_last_flush = time.monotonic()


def minute_key(minute: int, counter: str) -> str:
    return f"status:load:{minute}:{counter}"


def started() -> None:
    global _in_flight
    with _lock:
        _in_flight += 1


def finished(seconds: float) -> None:
    global _in_flight
    with _lock:
        _in_flight -= 1
        _pending["completed"] += 1
        _pending["ms"] += round(seconds * 1000)
    _maybe_flush()


def shed() -> None:
    with _lock:
        _pending["shed"] += 1
    _maybe_flush()


def _maybe_flush() -> None:
    global _last_flush
    now = time.monotonic()
    if now - _last_flush < FLUSH_SECONDS:
        return
    with _lock:
        if now - _last_flush < FLUSH_SECONDS:
            return
        _last_flush = now
        counts = dict(_pending)
        for name in _pending:
            _pending[name] = 0
        in_flight = _in_flight
    try:
        flush(counts, in_flight)
    except Exception:  # the cache being away must never fail a request
        logger.warning("load counters not written", exc_info=True)


def flush(counts: dict[str, int], in_flight: int) -> None:
    minute = int(time.time() // 60)
    for name, value in counts.items():
        if value:
            add_minutes(name, {minute: value})
    cache.set(f"status:worker:{WORKER_ID}", {"in_flight": in_flight, "at": time.time()}, WORKER_TTL)
    workers = cache.get(WORKERS_KEY) or []
    if WORKER_ID not in workers:
        # A lost race only delays this worker's listing until its next flush.
        cache.set(WORKERS_KEY, [*workers[-63:], WORKER_ID], None)


def add_minutes(counter: str, per_minute: dict[int, int]) -> None:
    """Add counts made elsewhere (nginx's refusals) to the per-minute buckets."""
    for minute, value in per_minute.items():
        key = minute_key(minute, counter)
        if cache.add(key, value, BUCKET_TTL):
            continue
        try:
            cache.incr(key, value)
        except ValueError:  # the bucket expired (or the cache was emptied) since add()
            cache.add(key, value, BUCKET_TTL)


class FrontRefusals:
    """Reads the refusals nginx's front door logged (one `$msec` line each, see
    deploy/nginx.conf) from where the last read stopped, and counts them per minute as
    "shed", like Kreide's own refusals. It starts at the log's end (a restarted sampler must
    not count old refusals twice); a rotated or truncated log is read from its start, and
    one grown past `keep_bytes` is emptied once read, where Kreide may write it."""

    def __init__(self, path: Path, keep_bytes: int = 8 * 1024 * 1024) -> None:
        self.path = path
        self.keep_bytes = keep_bytes
        try:
            self.offset = path.stat().st_size
        except FileNotFoundError:
            self.offset = 0

    def collect(self) -> int:
        try:
            with self.path.open("rb") as log:
                if log.seek(0, os.SEEK_END) < self.offset:
                    self.offset = 0
                log.seek(self.offset)
                data = log.read()
        except FileNotFoundError:  # no nginx in front, or nothing refused yet
            return 0
        complete = data[: data.rfind(b"\n") + 1]  # a line nginx is still writing waits
        self.offset += len(complete)
        if self.offset > self.keep_bytes and len(complete) == len(data):
            try:  # nginx appends (O_APPEND): its next line starts the emptied file
                os.truncate(self.path, 0)
                self.offset = 0
            except PermissionError:  # nginx's log, not ours: logrotate keeps it small
                pass
        per_minute: dict[int, int] = {}
        for line in complete.split():
            try:
                minute = int(float(line) // 60)
            except ValueError:
                continue
            per_minute[minute] = per_minute.get(minute, 0) + 1
        add_minutes("shed", per_minute)
        return sum(per_minute.values())


def in_flight_now() -> int:
    """Requests in flight across all workers that reported within the last minute."""
    workers = cache.get(WORKERS_KEY) or []
    snapshots = cache.get_many([f"status:worker:{worker}" for worker in workers])
    return sum(snapshot["in_flight"] for snapshot in snapshots.values())


def minutes(first: int, last: int) -> list[dict[str, int]]:
    """Counts of each minute from `first` up to `last` (exclusive), in one cache round trip."""
    names = ("completed", "shed", "ms")
    keys = [minute_key(minute, name) for minute in range(first, last) for name in names]
    found = cache.get_many(keys)
    return [
        {name: int(found.get(minute_key(minute, name), 0)) for name in names}
        for minute in range(first, last)
    ]
