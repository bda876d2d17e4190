"""What a sign-in costs besides its argon2id verification, measured in-process.

Each sign-in is a new browser (django.test.Client) of another demo student who last
signed in yesterday, as at 8:00: GET the form, POST the credentials (302). Reports per
sign-in the Python function calls (cProfile; unlike times not disturbed by other load),
queries, Redis round trips, and the CPU time (time.process_time) with and without the
argon2id verification (timed around the hasher's `verify`), so "overhead × argon2id" is
a same-run ratio, and the CPU of the PostgreSQL backend (read from /proc). Against the
real settings (KREIDE_* from the environment: PostgreSQL and Redis as in production).

    export KREIDE_DATABASE_URL=postgres://postgres@127.0.0.1:5432/kreide_x \\
           KREIDE_REDIS_URL=redis://127.0.0.1:6379/11 KREIDE_DATA_DIR=$PWD/var/x
    .venv/bin/kreide migrate && .venv/bin/kreide seed-demo
    .venv/bin/python bench/login/costs.py -n 40
    .venv/bin/python bench/login/costs.py -n 20 --profile   # cProfile top 25
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import re
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kreide.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth.hashers import get_hasher  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

sys.path.insert(0, str(ROOT / "bench" / "pages"))
from profile_pages import HOST, PASSWORD, RedisTrips  # noqa: E402

CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class Argon2Clock:
    """CPU seconds spent in the hasher's verify (the part a sign-in cannot shed)."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __enter__(self) -> Argon2Clock:
        # The class that defines verify: both argon2 hashers of the settings inherit it.
        hasher_class = next(
            klass for klass in type(get_hasher("default")).__mro__ if "verify" in vars(klass)
        )
        self._class, self._original = hasher_class, hasher_class.verify
        original = self._original

        def timed(hasher: object, password: str, encoded: str) -> bool:
            started = time.process_time()
            try:
                return original(hasher, password, encoded)
            finally:
                self.seconds += time.process_time() - started

        hasher_class.verify = timed
        return self

    def __exit__(self, *_exc: object) -> None:
        self._class.verify = self._original


def _backend_ns() -> int:
    """CPU time of this connection's PostgreSQL backend (a local server), nanoseconds."""
    if connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    with open(f"/proc/{pid}/schedstat") as stat:
        return int(stat.read().split()[0])


def students(count: int) -> list[str]:
    """Students of the demo school, each marked as signed in yesterday."""
    from kreide.accounts.models import User

    chosen = list(
        User.objects.filter(role="student", is_active=True, must_change_password=False)
        .order_by("pk")
        .values_list("username", flat=True)[:count]
    )
    if len(chosen) < count:
        sys.exit(f"only {len(chosen)} students")
    User.objects.filter(username__in=chosen).update(last_login=timezone.now() - timedelta(days=1))
    return chosen


# One client, so the handler (middleware, WhiteNoise's file scan) is built once; each
# sign-in starts without cookies, as a new browser.
client = Client(enforce_csrf_checks=True)


def sign_in(username: str) -> None:
    client.cookies.clear()
    form = client.get("/accounts/login/", **HOST).content.decode()
    body = urlencode(
        {
            "csrfmiddlewaretoken": CSRF_FIELD.search(form).group(1),
            "username": username,
            "password": PASSWORD,
            "remember": "on",
        }
    )  # as a browser sends it (the test client's default is multipart)
    response = client.post(
        "/accounts/login/", body, content_type="application/x-www-form-urlencoded", **HOST
    )
    if response.status_code != 302:
        sys.exit(f"sign-in of {username} answered {response.status_code}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=40, help="sign-ins, each of another student")
    parser.add_argument("--profile", action="store_true", help="cProfile listing instead")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    names = students(args.n + 5)
    for name in names[:5]:  # warm-up: imports, templates, connections
        sign_in(name)
    names = names[5:]
    if args.profile:
        profiler = cProfile.Profile(time.process_time)  # CPU: the machine is shared
        profiler.enable()
        for name in names:
            sign_in(name)
        profiler.disable()
        stats = pstats.Stats(profiler)
        print(f"{stats.total_calls / len(names):,.0f} function calls per sign-in")
        stats.sort_stats("cumulative").print_stats(args.top)
        stats.sort_stats("tottime").print_stats(args.top)
        return
    half = len(names) // 2
    totals, argon2s = [], []
    backend = _backend_ns()
    for name in names[:half]:
        with Argon2Clock() as argon2:
            started = time.process_time()
            sign_in(name)
            totals.append(time.process_time() - started)
        argon2s.append(argon2.seconds)
    database_ms = (_backend_ns() - backend) / 1e6 / half
    queries: list[str] = []

    def log(execute, sql, params, many, context):  # noqa: ANN001
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(log), RedisTrips() as trips:
        sign_in(names[half])
    profiler = cProfile.Profile()
    profiler.enable()
    for name in names[half + 1 :]:
        sign_in(name)
    profiler.disable()
    calls = pstats.Stats(profiler).total_calls / len(names[half + 1 :])
    overheads = [total - argon2 for total, argon2 in zip(totals, argon2s, strict=True)]
    ratios = [o / a for o, a in zip(overheads, argon2s, strict=True)]
    print(
        f"{len(totals)} timed sign-ins (GET form + POST): CPU p50 "
        f"{statistics.median(totals) * 1000:.1f} ms, argon2id p50 "
        f"{statistics.median(argon2s) * 1000:.1f} ms, the rest p50 "
        f"{statistics.median(overheads) * 1000:.1f} ms = "
        f"{statistics.median(ratios):.2f} × argon2id; PostgreSQL {database_ms:.2f} ms "
        f"(its backend's CPU, mean); "
        f"{len(queries)} queries, {trips.count} Redis round trips, "
        f"{calls:,.0f} function calls (the client's included)"
    )
    for sql in queries:
        print("  ", sql[:150])


if __name__ == "__main__":
    main()
