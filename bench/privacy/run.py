"""Retention run and a person's copy on the demo school: wall time and peak memory, with
the argon2id ratio (how many password hashes the same CPU time would buy).

Builds a throwaway SQLite deployment with the demo school (`kreide seed-demo`, 1,200
students), adds --messages messages by one student (half of them 400 days old) and as
many notifications, then measures each step as its own `kreide` process under
/usr/bin/time: the dry run, the real run (deletes the old half), and building that
student's copy (every personal row plus files, through the access-exports worker).

    .venv/bin/python bench/privacy/run.py [--messages 20000]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXTRA = """
from datetime import timedelta
from django.utils import timezone
from kreide.accounts.models import User
from kreide.messenger.models import Message, Room, RoomMember
from kreide.notifications.models import Notification
from kreide.schools.models import School
school = School.objects.get(slug="demo")
member = RoomMember.objects.for_school(school).filter(user__role="student").first()
student, room = member.user, member.room
Message.unscoped.bulk_create([Message(school=school, room=room, author=student,
    client_key=f"bench{n}", body=f"Nachricht {n}: " + "Bruchrechnung " * 8)
    for n in range({count})], batch_size=5000)
Notification.unscoped.bulk_create([Notification(school=school, user=student,
    kind="new_task", text=f"Neue Aufgabe {n}") for n in range({count})], batch_size=5000)
old = timezone.now() - timedelta(days=400)
half = list(Message.unscoped.filter(author=student).order_by("pk").values_list("pk", flat=True))
Message.unscoped.filter(pk__in=half[: len(half) // 2]).update(created_at=old)
print(student.pk)
"""
COPY = """
from kreide.accounts.models import User
from kreide.privacy import services
student = User.objects.get(pk={pk})
services.request_copy(student, student)
copy = services.process_next()
print(copy.state, copy.size, copy.total)
"""


def kreide(*args: str, env: dict[str, str]) -> tuple[float, int, str]:
    command = ["/usr/bin/time", "-f", "TIME %e %M", str(ROOT / ".venv" / "bin" / "kreide"), *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        sys.exit(f"kreide {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    seconds, kilobytes = re.search(r"TIME (\S+) (\d+)", done.stderr).groups()
    return float(seconds), int(kilobytes) // 1024, done.stdout


def argon2id_seconds(env: dict[str, str], rounds: int = 5) -> float:
    """One argon2id hash with Kreide's parameters, measured in a process of its own."""
    code = (
        "import time; from django.contrib.auth.hashers import make_password; "
        f"start = time.perf_counter(); [make_password('x') for _ in range({rounds})]; "
        f"print((time.perf_counter() - start) / {rounds})"
    )
    _s, _m, out = kreide("shell", "-c", code, env=env)
    return float(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20000)
    options = parser.parse_args()
    base = {k: v for k, v in os.environ.items() if not k.startswith("KREIDE_")}
    with tempfile.TemporaryDirectory(prefix="kreide-privacy-bench-") as scratch:
        env = {**base, "KREIDE_DATA_DIR": scratch}
        kreide("migrate", "-v0", env=env)
        kreide("seed-demo", env=env)
        _s, _m, out = kreide(
            "shell", "-c", EXTRA.replace("{count}", str(options.messages)), env=env
        )
        student = int(out.strip().splitlines()[-1])
        argon = argon2id_seconds(env)
        startup = kreide("version", env=env)
        dry = kreide("retention", "--school", "demo", "--dry-run", env=env)
        real = kreide("retention", "--school", "demo", env=env)
        copy = kreide("shell", "-c", COPY.replace("{pk}", str(student)), env=env)
        counts = re.search(r"messages: (\d+)", real[2]).group(1)
        state, size, total = copy[2].split()[-3:]
        print(
            f"demo school + {options.messages} messages and notifications of one student; "
            f"real run deleted {counts} messages; copy {state}, {int(size) // 1024} KiB, "
            f"{total} rows+bytes; argon2id {argon * 1000:.0f} ms"
        )
        print("| step | wall s | max RSS MiB | argon2id hashes |\n|---|---|---|---|")
        for step, (seconds, mib, _out) in (
            ("start-up only (`kreide version`)", startup),
            ("`kreide retention --dry-run`", dry),
            ("`kreide retention`", real),
            ("copy of the student's data", copy),
        ):
            print(f"| {step} | {seconds:.1f} | {mib} | {seconds / argon:.0f} |")


if __name__ == "__main__":
    main()
