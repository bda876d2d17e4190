"""CPU and queries of the pages every student opens at 8:00, measured in-process.

Signs in as a demo student through django.test.Client against the real settings
(kreide.settings, KREIDE_* from the environment: use the production backends,
PostgreSQL and Redis, with DEBUG off), warms up, then requests each page N times and
prints mean wall time, CPU time (time.process_time), queries, Redis round trips and
Python function calls
(counted by cProfile over a few extra requests; unlike times, not disturbed by other load
on the machine) per request.

    export KREIDE_DATABASE_URL=postgres://postgres@127.0.0.1:5432/kreide_cpu \\
           KREIDE_REDIS_URL=redis://127.0.0.1:6379/11 KREIDE_CACHE_PREFIX=cpu \\
           KREIDE_DATA_DIR=$PWD/var/cpu
    .venv/bin/kreide migrate && .venv/bin/kreide seed-demo
    .venv/bin/python bench/pages/profile_pages.py -n 200
    .venv/bin/python bench/pages/profile_pages.py --profile dashboard   # cProfile top 20

With --first-visit every request is a first visit of the day (see `forget_user`).

Pages: login (the sign-in form, anonymous), dashboard, tasks, task, timetable (my day),
substitutions (the school's plan), info screen (the hallway monitor, anonymous), files,
chats, chat, and the webmail's inbox where mail is set up (KREIDE_MAIL_DIR and
KREIDE_MAIL_PORT_BASE of a running `kreide mail-start`; its IMAP commands are counted). The
student is the demo school's sample student unless --user names another. Runs on one
core in one process; the client and the server share it, but the client's share is
small (django.test.Client builds a WSGI environ and calls the handler directly).
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
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kreide.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

TASK_LINK = re.compile(r'href="/tasks/(\d+)/"')
ROOM_LINK = re.compile(r'href="(/messages/rooms/\d+/)"')
PASSWORD = os.environ.get("KREIDE_DEMO_PASSWORD", "kreide-demo")
HOST = {"HTTP_HOST": "127.0.0.1", "SERVER_NAME": "127.0.0.1"}
CALL_SAMPLES = 5


def sign_in(client: Client, username: str) -> None:
    client.get("/accounts/login/", **HOST)
    response = client.post(
        "/accounts/login/",
        {"username": username, "password": PASSWORD, "remember": "on"},
        **HOST,
    )
    if response.status_code != 302:
        sys.exit(f"sign-in of {username} answered {response.status_code}")


def pages_of(client: Client) -> dict[str, tuple[Client, str]]:
    """The journey's pages; the task and the room are found from the pages like Locust does."""
    anonymous = Client()
    pages = {"login": (anonymous, "/accounts/login/"), "dashboard": (client, "/")}
    pages["tasks"] = (client, "/tasks/")
    ids = TASK_LINK.findall(client.get("/tasks/", **HOST).content.decode())
    if ids:
        pages["task"] = (client, f"/tasks/{ids[0]}/")
    pages["timetable"] = (client, "/timetable/")
    pages["substitutions"] = (client, "/timetable/substitutions/")
    pages["info screen"] = (anonymous, _screen_path())
    pages["files"] = (client, "/files/")
    pages["chats"] = (client, "/messages/")
    room = ROOM_LINK.search(client.get("/messages/", **HOST).content.decode())
    if room:
        pages["chat"] = (client, room.group(1))
    from kreide.mail import health

    if health.configured():
        pages["inbox"] = (client, "/mail/")
    return pages


def _screen_path() -> str:
    """The demo school's hallway screen (the secret link an admin would hang up)."""
    from django.urls import reverse

    from kreide.schools.demo import DEMO_SLUG
    from kreide.schools.models import School
    from kreide.timetable.services import screen_link

    token = screen_link(School.objects.get(slug=DEMO_SLUG)).token
    return reverse("timetable:screen", args=[token])


def fetch(client: Client, path: str) -> None:
    response = client.get(path, **HOST)
    if response.status_code != 200:
        sys.exit(f"GET {path} answered {response.status_code}")


class RedisTrips:
    """Counts cache round trips: every command or pipeline redis-py sends goes through
    one `send_packed_command` (a no-op count with another cache backend)."""

    def __init__(self) -> None:
        self.count = 0

    def __enter__(self) -> RedisTrips:
        from redis.connection import Connection

        self._original = original = Connection.send_packed_command

        def counting(connection: Connection, *args: object, **kwargs: object) -> None:
            self.count += 1
            original(connection, *args, **kwargs)

        Connection.send_packed_command = counting
        return self

    def __exit__(self, *_exc: object) -> None:
        from redis.connection import Connection

        Connection.send_packed_command = self._original


class ImapTrips:
    """Counts IMAP round trips: each connection (its greeting) and each command imaplib
    sends (IMAPClient sends through it; a command's first line starts with its tag)."""

    def __init__(self) -> None:
        self.count = 0

    def __enter__(self) -> ImapTrips:
        import imaplib

        self._originals = connect, send = imaplib.IMAP4.open, imaplib.IMAP4.send

        def counting_open(imap: imaplib.IMAP4, *args: object, **kwargs: object) -> None:
            self.count += 1
            connect(imap, *args, **kwargs)

        def counting_send(imap: imaplib.IMAP4, data: bytes) -> None:
            self.count += data.startswith(imap.tagpre)
            send(imap, data)

        imaplib.IMAP4.open, imaplib.IMAP4.send = counting_open, counting_send
        return self

    def __exit__(self, *_exc: object) -> None:
        import imaplib

        imaplib.IMAP4.open, imaplib.IMAP4.send = self._originals


def forget_user(username: str) -> Callable[[], None]:
    """For --first-visit: deletes the user's own cache entries (fragments, fragment
    versions, the navigation's counts; every key naming the user's id), as for a student
    who has not been seen yet while the class's entries stay warm. The session stays."""
    from django.core.cache import cache

    from kreide.accounts.models import User

    pk = User.objects.get(username=username).pk
    own = re.compile(rf"(?:user|student|unread|live-off):{pk}(?::|$)")
    redis = cache.client.get_client()
    prefix = cache.make_key("")

    def forget() -> None:
        keys = [key for key in redis.scan_iter(match=f"{prefix}*", count=1000)]
        keys = [key for key in keys if own.search(key.decode()[len(prefix) :])]
        if keys:
            redis.delete(*keys)

    return forget


def measure(
    client: Client, path: str, n: int, before: Callable[[], None] = lambda: None
) -> dict[str, float]:
    before()
    with CaptureQueriesContext(connection) as queries, RedisTrips() as trips, ImapTrips() as imap:
        fetch(client, path)
    # Read now: the next request's request_started signal clears the connection's log.
    query_count = len(queries.captured_queries)
    walls, cpus = [], []
    for _ in range(n):
        before()
        wall, cpu = time.perf_counter(), time.process_time()
        fetch(client, path)
        cpus.append(time.process_time() - cpu)
        walls.append(time.perf_counter() - wall)
    # Python function calls per request: a load-independent measure of the work done.
    profiler = cProfile.Profile()
    for _ in range(CALL_SAMPLES):
        before()
        profiler.enable()
        fetch(client, path)
        profiler.disable()
    calls = pstats.Stats(profiler).total_calls / CALL_SAMPLES
    return {
        "calls": calls,
        "wall": statistics.mean(walls) * 1000,
        "wall_p50": statistics.median(walls) * 1000,
        "cpu": statistics.mean(cpus) * 1000,
        "cpu_p50": statistics.median(cpus) * 1000,
        "queries": query_count,
        "redis": trips.count,
        "imap": imap.count,
    }


def profile(
    client: Client, path: str, n: int, top: int, before: Callable[[], None] = lambda: None
) -> None:
    profiler = cProfile.Profile()
    for _ in range(n):
        before()
        profiler.enable()
        fetch(client, path)
        profiler.disable()
    stats = pstats.Stats(profiler)
    print(f"cProfile of {n} × GET {path}: {stats.total_calls / n:,.0f} function calls each")
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=100, help="requests per page (default 100)")
    parser.add_argument("--warmup", type=int, default=20, help="requests per page before timing")
    parser.add_argument("--user", help="student username (default: the demo sample student)")
    parser.add_argument("--profile", metavar="PAGE", help="cProfile this page instead")
    parser.add_argument("--top", type=int, default=20, help="rows of the cProfile listing")
    parser.add_argument("--pages", help="comma-separated subset of the pages")
    parser.add_argument(
        "--first-visit",
        action="store_true",
        help="before each request delete the student's own cache entries (Redis only)",
    )
    args = parser.parse_args()

    if args.user:
        username = args.user
    else:
        from kreide.schools.demo import demo_logins

        username = demo_logins().student
    client = Client()
    sign_in(client, username)
    pages = pages_of(client)
    if args.pages:
        pages = {name: pages[name] for name in args.pages.split(",")}
    for page_client, path in pages.values():
        for _ in range(args.warmup):
            fetch(page_client, path)

    before = forget_user(username) if args.first_visit else lambda: None
    if args.profile:
        page_client, path = pages[args.profile]
        profile(page_client, path, args.n, args.top, before)
        return

    database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    cache = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
    print(
        f"student {username}, {database} + {cache}, DEBUG={settings.DEBUG}, "
        f"{args.n} requests per page after {args.warmup} warm-up"
        f"{', each a first visit' if args.first_visit else ''}\n"
    )
    print(
        "| page | path | wall ms (mean / p50) | CPU ms (mean / p50) | queries "
        "| Redis round trips | IMAP round trips | calls |"
    )
    print("|---|---|---|---|---|---|---|---|")
    total_cpu = 0.0
    for name, (page_client, path) in pages.items():
        result = measure(page_client, path, args.n, before)
        total_cpu += result["cpu"]
        print(
            f"| {name} | `{path}` | {result['wall']:.1f} / {result['wall_p50']:.1f} "
            f"| {result['cpu']:.1f} / {result['cpu_p50']:.1f} | {result['queries']} "
            f"| {result['redis']} | {result['imap']} | {result['calls']:,.0f} |"
        )
    print(f"\nCPU of all pages together: {total_cpu:.1f} ms")


if __name__ == "__main__":
    main()
