"""What the shared caches cost per operation: the embedded default's file cache against a
per-process memory cache (what the embedded default used before) and against reading the
session from SQLite, and Redis up, away and frozen.

Runs in one process with a throw-away data directory (SQLite migrated there); Redis
figures need KREIDE_BENCH_REDIS_PORT of a redis-server this script may freeze (SIGSTOP),
never a shared one. Prints a Markdown table (median and 95th percentile in microseconds).

    .venv/bin/python bench/cache/run.py [--rounds 2000]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def measure(operation: Callable[[], object], rounds: int) -> tuple[float, float]:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        operation()
        times.append((time.perf_counter() - started) * 1e6)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()
    data_dir = tempfile.mkdtemp(prefix="kreide-bench-cache-")
    os.environ.update(KREIDE_DATA_DIR=data_dir, DJANGO_SETTINGS_MODULE="kreide.settings")
    os.environ.pop("KREIDE_DATABASE_URL", None)
    os.environ.pop("KREIDE_REDIS_URL", None)
    import django

    django.setup()
    from django.contrib.sessions.backends import cached_db, db
    from django.core.cache.backends.locmem import LocMemCache
    from django.core.management import call_command

    from kreide.core.cache import FileCache

    call_command("migrate", verbosity=0)
    memory = LocMemCache("bench", {})
    files = FileCache(str(Path(data_dir) / "cache"), {"OPTIONS": {"MAX_ENTRIES": 50_000}})
    # A school morning's worth of entries in the file cache (sessions, fragments).
    for number in range(3000):
        files.set(f"filler:{number}", {"n": number}, 3600)

    session = db.SessionStore()
    session.update({"_auth_user_id": "1", "_auth_user_hash": "x" * 64})
    session.create()
    key = session.session_key

    def session_read(cache) -> Callable[[], object]:
        def read() -> object:
            store = cached_db.SessionStore(key)
            store._cache = cache
            return store.load()

        return read

    def counting(cache) -> Callable[[], object]:
        cache.set("count", 0, 900)
        return lambda: cache.incr("count")

    rows = [
        ("session read, memory cache (per process, before)", session_read(memory)),
        ("session read, file cache (shared, now)", session_read(files)),
        ("session read, SQLite only (`db` engine)", lambda: db.SessionStore(key).load()),
        ("throttle count, memory cache", counting(memory)),
        ("throttle count, file cache (locked)", counting(files)),
        ("fragment read (get_many of 3), file cache", lambda: files.get_many(["a", "b", "c"])),
        ("cache write (set), file cache", lambda: files.set("written", {"x": 1}, 60)),
    ]
    print("| operation | median µs | p95 µs |\n|---|---:|---:|")
    for name, operation in rows:
        median, p95 = measure(operation, args.rounds)
        print(f"| {name} | {median:.0f} | {p95:.0f} |")
    port = os.environ.get("KREIDE_BENCH_REDIS_PORT")
    if port:
        redis_rows(int(port), args.rounds)


def redis_rows(port: int, rounds: int) -> None:
    """A Redis cache with the production options, then the same Redis frozen."""
    from django_redis.cache import RedisCache

    cache = RedisCache(
        f"redis://127.0.0.1:{port}/0",
        {
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 0.5,
                "IGNORE_EXCEPTIONS": True,
                "CONNECTION_POOL_CLASS": "kreide.core.cache.BreakerConnectionPool",
            }
        },
    )
    cache.set("k", 1)
    median, p95 = measure(lambda: cache.get("k"), rounds)
    print(f"| get, Redis | {median:.0f} | {p95:.0f} |")
    pid = int(
        subprocess.check_output(["redis-cli", "-p", str(port), "info", "server"])
        .decode()
        .split("process_id:")[1]
        .split()[0]
    )
    os.kill(pid, signal.SIGSTOP)
    try:
        started = time.perf_counter()
        cache.get("k")
        first = (time.perf_counter() - started) * 1e6
        median, p95 = measure(lambda: cache.get("k"), rounds)
    finally:
        os.kill(pid, signal.SIGCONT)
    print(f"| get, Redis frozen: the first request | {first:.0f} | – |")
    print(f"| get, Redis frozen: the requests after it (breaker open) | {median:.0f} | {p95:.0f} |")


if __name__ == "__main__":
    main()
