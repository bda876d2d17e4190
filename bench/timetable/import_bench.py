"""How long a whole school's Untis export takes to import, and to import again.

Writes the demo school's week and substitutions as Untis GPU files (GPU001, GPU004,
GPU014, as Untis exports them), removes the school's lessons and substitutions, then
times (1) the first import, (2) the same export again (nothing changes), (3) a changed
export (one room moved for a class, one more substitution). Run against a database with
the demo school (`kreide seed-demo`); it puts the school's timetable back as it was.

    .venv/bin/python bench/timetable/import_bench.py
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kreide.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from kreide.schools.demo import DEMO_SLUG  # noqa: E402
from kreide.schools.models import School  # noqa: E402
from kreide.timetable import importing, services  # noqa: E402
from kreide.timetable.models import Lesson, Substitution, TeacherCode  # noqa: E402

UNTIS_KIND = {"cancelled": "C", "substitution": "", "room": "R", "moved": "T", "exam": "E"}


def export(school: School) -> dict[str, bytes]:
    """The school's timetable as an Untis export writes it (UTF-8, quoted text, CRLF)."""
    codes = dict(TeacherCode.objects.for_school(school).values_list("user_id", "code"))
    names = dict(TeacherCode.objects.for_school(school).values_list("code", "user__last_name"))
    gpu001 = [
        f'{n};"{g}";"{codes.get(t, "")}";"{s or ""}";"{r or ""}";{d};{p};'
        for n, (g, t, s, r, d, p) in enumerate(
            Lesson.objects.for_school(school).values_list(
                "group__name",
                "teacher_id",
                "subject__short_name",
                "room__code",
                "weekday",
                "period",
            ),
            1,
        )
    ]
    gpu014 = []
    rows = Substitution.objects.for_school(school).values_list(
        "day", "period", "group__name", "kind", "subject__short_name", "teacher_id",
        "absent_teacher_id", "room__code", "original_room__code", "note",
    )  # fmt: skip
    for number, (day, period, group, kind, subject, teacher, absent, room, old, note) in enumerate(
        rows, 1
    ):
        bits = 1 if kind == "cancelled" else 65536 if kind == "room" else 0
        gpu014.append(
            f'{number};{day:%Y%m%d};{period};;;"{codes.get(absent, "")}";'
            f'"{codes.get(teacher, "")}";'
            f'"{subject or ""}";"";"";"";"{old or room or ""}";"{room if old else ""}";"";'
            f'"{group}";"";"{note}";{bits};"";"{UNTIS_KIND.get(kind, "")}";'
        )
    gpu004 = [f'"{code}";"{name}";' for code, name in names.items()]
    return {
        name: ("\r\n".join(lines) + "\r\n").encode("utf-8")
        for name, lines in (("GPU001.TXT", gpu001), ("GPU004.TXT", gpu004), ("GPU014.TXT", gpu014))
    }


def timed(school: School, files: dict[str, bytes], label: str) -> services.ImportReport:
    started = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        report = services.import_timetable(school, importing.parse_untis(files))
    elapsed = time.perf_counter() - started
    print(
        f"| {label} | {elapsed:.2f} s | {len(queries)} | {len(report.lessons_added)} "
        f"/ {len(report.lessons_removed)} | {len(report.substitutions_added)} "
        f"/ {len(report.substitutions_removed)} |"
    )
    return report


def main() -> None:
    school = School.objects.get(slug=DEMO_SLUG)
    files = export(school)
    size = sum(len(data) for data in files.values())
    lessons = Lesson.objects.for_school(school).count()
    changes = Substitution.objects.for_school(school).count()
    print(
        f"{school.name}: {lessons} lessons, {changes} substitutions, export "
        f"{size / 1024:.0f} KiB ({connection.vendor})\n"
    )
    Lesson.objects.for_school(school).delete()
    Substitution.objects.for_school(school).delete()
    print("| import | time | queries | lessons + / − | substitutions + / − |")
    print("|---|---|---|---|---|")
    timed(school, files, "first import of the whole export")
    timed(school, files, "the same export again")
    first_room = Lesson.objects.for_school(school).values_list("room__code", flat=True).first()
    changed = dict(files)
    changed["GPU001.TXT"] = files["GPU001.TXT"].replace(
        f'"{first_room}";1;1;'.encode(), b'"AULA";1;1;', 1
    )
    timed(school, changed, "one room changed")
    timed(school, files, "back to the original")


if __name__ == "__main__":
    main()
