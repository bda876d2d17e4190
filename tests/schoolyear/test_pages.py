"""The school office's school-year pages: who may open them, what they save, and a bounded
number of queries whatever the number of classes."""

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from kreide.accounts.models import User
from kreide.core.models import AuditEntry
from kreide.schoolyear import services
from kreide.schoolyear.models import ClassException, Leaver, RolloverRule, SchoolYear
from kreide.timetable import calendars
from kreide.timetable.models import Event
from tests.visible import shows, visible_text

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
OFFICE_PAGES = ["schoolyear:school_year", "schoolyear:rollover", "schoolyear:sync"]


@pytest.mark.parametrize("who", ["teacher_7a", "student_7a", "parent"])
def test_only_school_admins_open_the_office_pages(year, client_for, who):
    client = client_for(getattr(year, who))
    for name in OFFICE_PAGES:
        assert client.get(reverse(name)).status_code == 403
    assert client.get(reverse("schoolyear:class_rule", args=[year.class_7a.pk])).status_code == 403


def test_another_schools_class_is_not_found(year, client_for):
    client = client_for(year.other_admin)
    assert client.get(reverse("schoolyear:class_rule", args=[year.class_7a.pk])).status_code == 404
    # Their own rollover page shows their school only.
    page = client.get(reverse("schoolyear:rollover")).content.decode()
    assert "No classes move." in page or "Keine Klasse wechselt." in page
    # Whole class names only: a random CSRF token or nonce may hold "7b" too.
    assert not re.search(r"(?<![\w+/=-])(7a|7b|8a|10a)(?![\w+/=-])", page)


def test_the_office_sets_the_year_an_exception_and_leavers(year, client_for):
    client = client_for(year.admin)
    response = client.post(
        reverse("schoolyear:school_year"),
        {
            "form": "year",
            "year-label": "2025/26",
            "year-starts_on": "2025-08-04",
            "year-ends_on": "2026-07-17",
        },
    )
    assert response.status_code == 302
    assert str(SchoolYear.objects.for_school(year.school).get(is_current=True).ends_on) == (
        "2026-07-17"
    )
    bad = client.post(
        reverse("schoolyear:school_year"),
        {
            "form": "year",
            "year-label": "2025/26",
            "year-starts_on": "2025-08-04",
            "year-ends_on": "2025-08-01",
        },
    )
    assert bad.status_code == 200 and "Der letzte Tag muss nach dem ersten liegen" in (
        bad.content.decode()
    )
    url = reverse("schoolyear:class_rule", args=[year.class_7a.pk])
    missing = client.post(url, {"action": "move", "target": ""})
    assert "Bitte die neue Klasse angeben" in missing.content.decode()
    client.post(url, {"action": "leave", "leaver": [str(year.student_7a.pk)]})
    assert ClassException.objects.for_school(year.school).get(group=year.class_7a).action == "leave"
    assert set(Leaver.objects.for_school(year.school).values_list("user_id", flat=True)) == {
        year.student_7a.pk
    }
    preview = client.get(reverse("schoolyear:rollover")).content.decode()
    assert "verlässt die Schule" in preview
    # Whom it affects, by name: 7a's students leave, 7b's move into 8a with their teacher.
    assert year.student_7a.get_full_name() in preview
    assert year.student_7b.get_full_name() in preview
    assert year.teacher_7b.get_full_name() in preview


def test_the_office_changes_the_rule_and_the_plan_follows_it(year, client_for):
    client = client_for(year.admin)
    url = reverse("schoolyear:school_year")
    assert {move.target for move in services.plan_rollover(year.school).moves} == {"8a", ""}
    # teachers_follow unticked: a checkbox sends nothing.
    response = client.post(url, {"form": "rule", "rule-final_grade": "13"})

    assert response.status_code == 302
    rule = RolloverRule.objects.for_school(year.school).get()
    assert (rule.final_grade, rule.teachers_follow) == (13, False)
    entry = AuditEntry.objects.for_school(year.school).get(action="schoolyear.settings")
    assert entry.actor == year.admin
    assert entry.details == {"final_grade": 13, "teachers": False}
    plan = services.plan_rollover(year.school)
    # 10a no longer graduates but moves up; no class takes its teachers along.
    assert {move.name: move.target for move in plan.moves} == {"7a": "8a", "7b": "8a", "10a": "11a"}
    assert [move.teachers for move in plan.moves] == [[], [], []]
    assert all(move.students for move in plan.moves)
    assert year.graduate.pk not in dict(plan.deactivated)

    # A grade the form does not take changes nothing.
    bad = client.post(url, {"form": "rule", "rule-final_grade": "14", "rule-teachers_follow": "on"})
    assert bad.status_code == 200
    rule.refresh_from_db()
    assert (rule.final_grade, rule.teachers_follow) == (13, False)
    assert (
        AuditEntry.objects.for_school(year.school).filter(action="schoolyear.settings").count() == 1
    )


def _ics(*holidays: tuple[str, str, str]) -> bytes:
    """A ministry-style ICS file of all-day holidays: (title, first day, day after the last)."""
    events = "".join(
        f"BEGIN:VEVENT\r\nUID:{title.replace(' ', '-')}@test\r\nSUMMARY:{title}\r\n"
        f"DTSTART;VALUE=DATE:{starts}\r\nDTEND;VALUE=DATE:{ends}\r\nEND:VEVENT\r\n"
        for title, starts, ends in holidays
    )
    return (
        f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//\r\n{events}END:VCALENDAR\r\n".encode()
    )


def test_the_year_page_lists_the_calendars_holidays_inside_the_year_only(year, client_for):
    """2025/26 runs from 1 August 2025 to 31 July 2026."""
    calendars.import_holidays(
        None,
        year.school,
        _ics(
            ("Osterferien 2025", "20250414", "20250427"),
            ("Sommerferien 2025", "20250714", "20250801"),  # ends on 31 July: before the year
            ("Herbstferien", "20251013", "20251026"),
            ("Weihnachtsferien", "20251222", "20260107"),
            ("Sommerferien 2026", "20260720", "20260902"),  # runs past the year's end
            ("Brückentag", "20260801", "20260802"),  # the day after the year
        ),
    )
    calendars.create_event(
        year.admin,
        title="Sportfest",
        starts_at=datetime(2025, 9, 12, 9, tzinfo=BERLIN),
        ends_at=datetime(2025, 9, 12, 14, tzinfo=BERLIN),
        audience=Event.Audience.SCHOOL,
    )
    calendars.import_holidays(
        None, year.other_school, _ics(("Winterferien", "20260202", "20260204"))
    )

    listed = [event.title for event in services.holidays_of(services.current_year(year.school))]
    assert listed == ["Herbstferien", "Weihnachtsferien", "Sommerferien 2026"]

    page = client_for(year.admin).get(reverse("schoolyear:school_year")).content
    # The last day shown is the holiday's, not the all-day event's end at the next midnight.
    assert shows(page, "Herbstferien: 13.10.2025 – 25.10.2025")
    assert shows(page, "Weihnachtsferien: 22.12.2025 – 06.01.2026")
    assert shows(page, "Sommerferien 2026: 20.07.2026 – 01.09.2026")
    text = visible_text(page)
    assert (
        text.index("Herbstferien")
        < text.index("Weihnachtsferien")
        < text.index("Sommerferien 2026")
    )
    for outside in (
        "Osterferien 2025",
        "Sommerferien 2025",
        "Brückentag",
        "Winterferien",
        "Sportfest",
    ):
        assert not shows(page, outside), outside


def _more_classes(year, make_group, make_user, count: int) -> None:
    for number in range(count):
        group = make_group(
            year.school, f"{5 + number % 4}{'xyzw'[number // 4]}", grade=5 + number % 4
        )
        make_user(year.school, User.Role.TEACHER, groups=(group,))
        for _ in range(3):
            make_user(year.school, groups=(group,))


@pytest.mark.parametrize("name", OFFICE_PAGES)
def test_office_pages_cost_the_same_queries_for_many_classes(
    year, client_for, make_group, make_user, django_assert_max_num_queries, name
):
    client = client_for(year.admin)
    client.get(reverse(name))
    _more_classes(year, make_group, make_user, 12)
    with django_assert_max_num_queries(22):
        assert client.get(reverse(name)).status_code == 200
