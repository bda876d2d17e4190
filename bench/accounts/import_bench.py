"""Import time for a school's worth of students: 1,200 new accounts in 48 classes.

Generates the CSV (no passwords, so every account gets a generated initial password and an
argon2id hash), then times the three parts the school office waits for: checking the file,
importing it (hashing in worker processes, bulk inserts, memberships, audit entries) and
rendering the PDF of sign-in slips; then re-imports the same file (updates, no hashing).
Runs in a throwaway database: SQLite in a temporary directory unless KREIDE_DATABASE_URL
names one (use a database of its own — the bench creates its tables with migrate).

    .venv/bin/python bench/accounts/import_bench.py [--students 1200] [--workers N]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def make_csv(students: int, rng: random.Random) -> bytes:
    from kreide.schools.demo import ascii_username
    from kreide.schools.demo_names import FIRST_NAMES, LAST_NAMES

    lines = ["username;first_name;last_name;role;classes"]
    for number in range(students):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        grade, letter = 5 + number // 25 // 6 % 9, "abcdef"[number // 25 % 6]
        lines.append(
            f"{ascii_username(first, last)}{number};{first};{last};student;{grade}{letter}"
        )
    return ("\n".join(lines) + "\n").encode()


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (the hashing workers)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1200)
    parser.add_argument(
        "--workers", type=int, default=None, help="hashing processes (default: one per core)"
    )
    args = parser.parse_args()

    os.environ.setdefault("KREIDE_DATA_DIR", tempfile.mkdtemp(prefix="kreide-import-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kreide.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from kreide.accounts import credentials, hashing, importing, services
    from kreide.accounts.models import User
    from kreide.schools.models import School

    call_command("migrate", verbosity=0)
    if args.workers:
        real = hashing.hash_passwords
        hashing_workers = args.workers
        services.hash_passwords = lambda passwords, progress: real(
            passwords, workers=hashing_workers, progress=progress
        )
    school = School.objects.create(
        name="Bench-Gymnasium",
        slug=f"bench-{time.time_ns()}",
        address="Teststraße 1\n12345 Teststadt",
    )
    data = make_csv(args.students, random.Random(1))

    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    rows = importing.parse(data, school)
    parsed = time.perf_counter()
    cpu_before = _cpu_seconds()
    result = services.import_users(None, school, rows, as_operator=True)
    imported = time.perf_counter()
    import_cpu = _cpu_seconds() - cpu_before
    pdf = credentials.render_pdf(result.credentials, school.name, school.address)
    rendered = time.perf_counter()
    again = services.import_users(None, school, importing.parse(data, school), as_operator=True)
    reimported = time.perf_counter()

    assert len(result.created) == args.students == len(result.credentials)
    assert again.unchanged == args.students and not again.created
    assert User.objects.for_school(school).count() == args.students
    workers = args.workers or os.cpu_count()
    engine = django.db.connection.vendor
    print(
        "| students | database | hash workers | load avg | check file | import (CPU) "
        f"| PDF ({len(pdf) // 1024} KiB) | re-import |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print(
        f"| {args.students} | {engine} | {workers} | {load_before:.1f} "
        f"| {parsed - started:.2f} s | {imported - parsed:.2f} s ({import_cpu:.1f} s) "
        f"| {rendered - imported:.2f} s | {reimported - rendered:.2f} s |"
    )


if __name__ == "__main__":
    main()
