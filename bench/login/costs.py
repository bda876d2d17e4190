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
    .venv/bin/python bench/login/costs.py -n 40 --layers    # CPU per middleware and view
    .venv/bin/python bench/login/costs.py -n 40 --hashes    # two verifications on one core
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import os
import pstats
import re
import statistics
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kreide.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.hashers import check_password, get_hasher, make_password  # noqa: E402
from django.core.handlers.base import BaseHandler  # noqa: E402
from django.db import close_old_connections, connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402
from django.utils.module_loading import import_string  # noqa: E402

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
    # The server's request_started does it before each request (the test client leaves
    # it out): the kept connection's health check at its first query.
    close_old_connections()
    form = client.get("/accounts/login/", **HOST).content.decode()
    body = urlencode(
        {
            "csrfmiddlewaretoken": CSRF_FIELD.search(form).group(1),
            "username": username,
            "password": PASSWORD,
            "remember": "on",
        }
    )  # as a browser sends it (the test client's default is multipart)
    close_old_connections()
    response = client.post(
        "/accounts/login/", body, content_type="application/x-www-form-urlencoded", **HOST
    )
    if response.status_code != 302:
        sys.exit(f"sign-in of {username} answered {response.status_code}")


def layers(names: list[str]) -> None:
    """Thread CPU of each middleware by itself (what it does around the layers inside it)
    and of the view (URL resolving, decorators, view), median per request, GET and POST
    apart (the first five sign-ins warm up); the POST's view includes the hash."""
    inclusive: dict[tuple[str, str], list[float]] = {}
    owners = [(import_string(path), path.rsplit(".", 1)[1]) for path in settings.MIDDLEWARE]
    owners.append((BaseHandler, "view"))
    for owner, label in owners:
        method = "_get_response" if owner is BaseHandler else "__call__"
        original = getattr(owner, method)

        def timed(self, request, original=original, label=label):
            started = time.thread_time()
            try:
                return original(self, request)
            finally:
                spent = time.thread_time() - started
                inclusive.setdefault((request.method, label), []).append(spent)

        setattr(owner, method, timed)
    # Before the handler is built (the first request binds the view's step).
    for name in names[:5]:
        sign_in(name)
    inclusive.clear()
    for name in names[5:]:
        sign_in(name)
    labels = [label for _, label in owners]
    for method in ("GET", "POST"):
        # A layer the request never reached (the early sign-in page answers before the
        # session middleware) spent nothing.
        medians = [
            statistics.median(inclusive.get((method, label), [0.0])) * 1e6 for label in labels
        ]
        print(f"{method}: {medians[0]:,.0f} µs from the first middleware in (median)")
        for number, label in enumerate(labels):
            inner = medians[number + 1] if number + 1 < len(labels) else 0.0
            print(f"  {medians[number] - inner:8,.0f} µs  {label}")


def hashes(count: int, rounds: int = 6) -> None:
    """Thread CPU of one argon2id verification on one core: alone, two threads at once,
    and two under the sign-in's lock (kreide.accounts.backends._ONE_HASH); median of each
    round of `count` per thread, rounds interleaved."""
    from kreide.accounts.backends import _ONE_HASH

    os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})
    encoded = make_password(PASSWORD)

    def verify(spent: list[float], guard: contextlib.AbstractContextManager) -> None:
        for _ in range(count):
            started = time.thread_time()
            with guard:
                check_password(PASSWORD, encoded)
            spent.append(time.thread_time() - started)

    ways = {"alone": None, "two at once": contextlib.nullcontext(), "two, one lock": _ONE_HASH}
    medians: dict[str, list[float]] = {way: [] for way in ways}
    for _ in range(rounds):
        for way, guard in ways.items():
            spent: list[float] = []
            if guard is None:
                verify(spent, contextlib.nullcontext())
            else:
                threads = [threading.Thread(target=verify, args=(spent, guard)) for _ in "ab"]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
            medians[way].append(statistics.median(spent) * 1000)
    for way, values in medians.items():
        rounds_text = ", ".join(f"{value:.1f}" for value in values)
        print(f"{way}: {statistics.median(values):.2f} ms (rounds {rounds_text})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=40, help="sign-ins, each of another student")
    parser.add_argument("--profile", action="store_true", help="cProfile listing instead")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--layers", action="store_true", help="CPU per middleware instead")
    parser.add_argument(
        "--hashes", action="store_true", help="verifications alone, two at once, one lock"
    )
    args = parser.parse_args()
    if args.hashes:
        hashes(args.n)
        return
    names = students(args.n + 5)
    if args.layers:
        layers(names)
        return
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

    usable = connection.is_usable
    checks: list[bool] = []

    def health_check() -> bool:  # Django's SELECT 1, sent past the execute wrappers
        checks.append(usable())
        return checks[-1]

    connection.is_usable = health_check
    with connection.execute_wrapper(log), RedisTrips() as trips:
        sign_in(names[half])
    del connection.is_usable
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
        f"{len(queries)} queries and {len(checks)} health checks (SELECT 1), "
        f"{trips.count} Redis round trips, "
        f"{calls:,.0f} function calls (the client's included)"
    )
    for sql in queries:
        print("  ", sql[:150])


if __name__ == "__main__":
    main()
