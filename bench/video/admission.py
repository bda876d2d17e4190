"""Admission decisions per second against a real Janus (PostgreSQL or SQLite as configured).

    KREIDE_DATABASE_URL=postgres://postgres@127.0.0.1:5432/kreide_video \
      .venv/bin/python bench/video/admission.py --students 600 --capacity 150 --threads 8

Creates a throw-away test database, a school with one class, starts Janus on free ports,
and lets every student ask for admission at once from `--threads` threads. Admitted
decisions include Janus's "allowed" call (the token); waiting decisions are pure database.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kreide.settings")
os.environ.setdefault("KREIDE_TESTING", "true")
os.environ.setdefault("KREIDE_DATA_DIR", tempfile.mkdtemp(prefix="kreide-bench-video-"))

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from tests.ports import free_port  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=600)
    parser.add_argument("--capacity", type=int, default=150)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    from kreide.accounts.models import User
    from kreide.schools.models import Group, Membership, School
    from kreide.video import janus_process, services
    from kreide.video.models import MediaServer

    started = janus_process.start(
        Path(tempfile.mkdtemp(prefix="kreide-janus-")),
        http_port=free_port(),
        ws_port=free_port(),
        rtp_ports=(30000, 30100),
    )
    try:
        school = School.objects.create(name="Bench", slug="bench")
        group = Group.unscoped.create(school=school, name="7a")
        teacher = User.objects.create(school=school, username="t", role=User.Role.TEACHER)
        Membership.unscoped.create(
            school=school, group=group, user=teacher, role=Membership.Role.TEACHER
        )
        students = User.objects.bulk_create(
            User(school=school, username=f"s{i}") for i in range(args.students)
        )
        Membership.unscoped.bulk_create(
            Membership(school=school, group=group, user=s) for s in students
        )
        MediaServer.objects.create(
            name="bench",
            url=started.api_url,
            public_url=started.ws_url,
            admin_key=started.admin_key,
            capacity=args.capacity,
            healthy=True,
        )
        lesson = services.create_lesson(
            teacher, group=group, title="Bench", starts_at=None, minutes=45
        )
        timings: dict[str, list[float]] = {"admitted": [], "waiting": []}
        lock = threading.Lock()
        queue = list(students)

        def worker() -> None:
            while True:
                with lock:
                    if not queue:
                        break
                    student = queue.pop()
                begin = time.perf_counter()
                try:
                    state = services.admit(student, lesson).state
                except Exception as error:  # counted and reported, not hidden
                    state = f"error {type(error).__name__}"
                elapsed = time.perf_counter() - begin
                with lock:
                    timings.setdefault(state, []).append(elapsed)
            connection.close()

        threads = [threading.Thread(target=worker) for _ in range(args.threads)]
        begin = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - begin
        total = sum(len(values) for values in timings.values())
        print(
            f"database: {connection.vendor}, students: {args.students}, "
            f"capacity: {args.capacity}, threads: {args.threads}"
        )
        print(f"decisions: {total} in {wall:.2f} s = {total / wall:.0f} decisions/s")
        for state, values in timings.items():
            if values:
                ordered = sorted(values)
                print(
                    f"  {state}: {len(values)}, median {statistics.median(values) * 1000:.1f} "
                    f"ms, p95 {ordered[int(len(ordered) * 0.95) - 1] * 1000:.1f} ms"
                )
    finally:
        started.stop()
        janus_process.remove_config(started.config_dir)
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
