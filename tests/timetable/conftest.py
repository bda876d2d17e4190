"""The Untis fixtures (tests/timetable/untis/, written from the GPU format's description)
and two teachers whose abbreviations they use: MÜL = Müller, SCH = Schäfer."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.utils import timezone

from kreide.accounts.models import User
from kreide.timetable import calendars, importing, services

UNTIS = Path(__file__).parent / "untis"


def school_days(school) -> tuple:
    """The next two school days (today if it is one), as the dashboard shows them."""
    free = calendars.free_days(school.pk)
    first = calendars.school_day_on_or_after(timezone.localdate(), free)
    return first, calendars.next_school_day(first, free)


def untis_files(school, encoding: str = "utf-8", **replace: str) -> dict[str, bytes]:
    """The fixture export; GPU014's {day} and {next} become the next two school days."""
    day, following = school_days(school)
    files = {}
    for path in sorted(UNTIS.iterdir()):
        text = path.read_text("utf-8").replace("{day}", f"{day:%Y%m%d}")
        text = text.replace("{next}", f"{following:%Y%m%d}")
        for old, new in replace.items():
            text = text.replace(old, new)
        files[path.name] = text.encode(encoding)
    return files


def run_import(school, files=None, **options) -> services.ImportReport:
    parsed = importing.parse_untis(files if files is not None else untis_files(school))
    return services.import_timetable(school, parsed, **options)


@pytest.fixture
def tt(world, make_user):
    """`world` plus Müller (teaches 7a) and Schäfer (teaches 7b), and the export imported."""
    world.mueller = make_user(
        world.school, User.Role.TEACHER, groups=(world.class_7a,), last_name="Müller"
    )
    world.schaefer = make_user(
        world.school, User.Role.TEACHER, groups=(world.class_7b,), last_name="Schäfer"
    )
    world.report = run_import(world.school)
    return world
