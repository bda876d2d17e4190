"""Fan-out of one announcement to 1,200 people: what it costs the poster, how fast the
worker delivers it (live over the channel layer and encrypted Web Push to a real push
service on loopback), and how pages fare meanwhile.

Makes a school "bench-fanout" with one class of 1,200 students, each with a browser
subscribed to a loopback RFC 8030 push receiver (which checks every VAPID token and
decrypts every message with the browser's key). Then:
 1. the poster's cost: `notify()` for 1,200 recipients with its commit, as in the request
    (median of --rounds, wall and this process's CPU time, each also as a ratio to one
    argon2id verification timed in the same run);
 2. `kreide notifications-work` as a real process until the queue is empty;
 3. meanwhile and before, the notification list page (Django test client, in this process).
Run against a migrated database (PostgreSQL in production shape; KREIDE_TESTING=true only
so that pages find their static files without `collectstatic`):

    KREIDE_TESTING=true KREIDE_DATABASE_URL=postgres://… KREIDE_REDIS_URL=redis://… \
      .venv/bin/python bench/notifications/fanout.py [--recipients 1200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import time as clock
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kreide.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth.hashers import get_hasher, make_password  # noqa: E402
from django.db import transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from kreide.accounts.models import User  # noqa: E402
from kreide.notifications import delivery, services  # noqa: E402
from kreide.notifications.models import Notification, PushSubscription, QuietHours  # noqa: E402
from kreide.schools.models import Group, Membership, School  # noqa: E402
from tests.notifications.receiver import PushReceiver  # noqa: E402

SLUG = "bench-fanout"


def school_with(recipients: int, receiver: PushReceiver) -> tuple[School, list[int], User]:
    School.objects.filter(slug=SLUG).delete()
    school = School.objects.create(name="Bench Fan-out", slug=SLUG)
    # No quiet hours: the benchmark measures pushes, whatever the time of day.
    QuietHours.objects.for_school(school).create(starts=clock(0), ends=clock(0))
    group = Group.objects.for_school(school).create(name="alle", kind=Group.Kind.CLASS, grade=7)
    password = make_password("bench-password-1")
    users = User.objects.bulk_create(
        User(school=school, username=f"fan{n}", role=User.Role.STUDENT, password=password)
        for n in range(recipients)
    )
    Membership.unscoped.bulk_create(
        Membership(school=school, group=group, user=user, role=Membership.Role.MEMBER)
        for user in users
    )
    subscriptions = []
    for user in users:
        sub = receiver.browser(f"u{user.pk}").subscription(receiver.origin)
        subscriptions.append(
            PushSubscription(
                school=school, user=user, endpoint=sub["endpoint"],
                p256dh=sub["keys"]["p256dh"], auth=sub["keys"]["auth"],
            )
        )  # fmt: skip
    PushSubscription.unscoped.bulk_create(subscriptions, batch_size=500)
    reader = User.objects.create(
        school=school, username="fan-reader", role=User.Role.TEACHER, password=password
    )
    return school, [user.pk for user in users], reader


def page_times(client: Client, count: int | None = None, until=None) -> list[float]:
    times = []
    while (count is not None and len(times) < count) or (until is not None and not until()):
        start = time.perf_counter()
        answer = client.get("/notifications/")
        times.append((time.perf_counter() - start) * 1000)
        assert answer.status_code == 200, (answer.status_code, answer.content[:300])
    return times


def argon2id_ms(rounds: int = 5) -> tuple[float, float]:
    """One verification of Kreide's password hasher (argon2id): median wall and CPU ms."""
    hasher = get_hasher("default")
    encoded = hasher.encode("bench-password-1", hasher.salt())
    wall, cpu = [], []
    for _ in range(rounds):
        started, started_cpu = time.perf_counter(), time.thread_time()
        assert hasher.verify("bench-password-1", encoded)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.thread_time() - started_cpu) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def summary(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"{statistics.median(ordered):.1f} / {p95:.1f} ms (n={len(ordered)})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=1200)
    parser.add_argument("--rounds", type=int, default=5, help="fan-outs timed (median)")
    args = parser.parse_args()
    setup_test_environment()  # the test client's hosts
    with PushReceiver() as receiver:
        school, user_ids, reader = school_with(args.recipients, receiver)
        client = Client()
        client.force_login(reader)
        idle = page_times(client, count=60)

        argon2_wall, argon2_cpu = argon2id_ms()
        poster_wall, poster_cpu = [], []
        for round_ in range(args.rounds):  # the last fan-out stays, for the worker
            if round_:
                Notification.unscoped.filter(school=school).delete()
            started, started_cpu = time.perf_counter(), time.thread_time()
            with transaction.atomic():
                services.notify(school.pk, user_ids, "news", "Morgen Hitzefrei ab der 4. Stunde")
            poster_wall.append((time.perf_counter() - started) * 1000)
            poster_cpu.append((time.thread_time() - started_cpu) * 1000)
        poster_ms, poster_cpu_ms = statistics.median(poster_wall), statistics.median(poster_cpu)

        env = {**os.environ, "KREIDE_PUSH_SERVICES": receiver.origin}
        worker_start = time.perf_counter()
        worker = subprocess.Popen(
            [str(Path(sys.executable).parent / "kreide"), "notifications-work"], env=env
        )
        try:
            during = page_times(client, until=lambda: delivery.queue_length() == 0)
            drained = time.perf_counter() - worker_start
            deadline = time.monotonic() + 60
            while len(receiver.received) < len(user_ids) and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            worker.terminate()
            worker.wait(10)
        delivered = Notification.objects.for_school(school).filter(delivered_at__isnull=False)
        print(f"recipients                      {len(user_ids)}")
        print(f"argon2id verification           {argon2_wall:.1f} ms wall, {argon2_cpu:.1f} ms CPU")
        print(
            f"poster: notify() in the request {poster_ms:.0f} ms wall "
            f"(= {poster_ms / argon2_wall:.2f} argon2id), {poster_cpu_ms:.0f} ms CPU "
            f"(= {poster_cpu_ms / argon2_cpu:.2f} argon2id), median of {args.rounds}: "
            + ", ".join(f"{ms:.0f}" for ms in poster_wall)
        )
        print(f"worker: queue drained after     {drained:.2f} s (incl. process start)")
        print(f"        notifications/s         {len(user_ids) / drained:.0f}")
        print(f"        delivered (stamped)     {delivered.count()}")
        counted = [
            services.unread_count(User(pk=pk, school_id=school.pk)) for pk in user_ids
        ].count(1)
        print(f"        unread counts right     {counted} (the bell shows 1)")
        print(
            f"pushes received and decrypted   {len(receiver.received)}, "
            f"rejected {len(receiver.rejected)}"
        )
        print(f"list page p50 / p95 idle        {summary(idle)}")
        print(f"list page p50 / p95 during      {summary(during)}")
    School.objects.filter(slug=SLUG).delete()


if __name__ == "__main__":
    main()
