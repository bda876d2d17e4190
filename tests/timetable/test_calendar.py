from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from kreide.core import audit
from kreide.core.models import AuditEntry
from kreide.timetable import calendars
from kreide.timetable.models import Event
from tests.timetable.conftest import school_days

pytestmark = pytest.mark.django_db


def _at(day: date, hour: int) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time()) + timedelta(hours=hour))


def _test(teacher, group, day, title="Klassenarbeit", **options) -> Event:
    return calendars.create_event(
        teacher,
        title=title,
        starts_at=_at(day, 8),
        ends_at=_at(day, 9),
        audience=Event.Audience.GROUP,
        group=group,
        kind=Event.Kind.TEST,
        **options,
    )


def _monday() -> date:
    today = timezone.localdate()
    return today - timedelta(days=today.weekday()) + timedelta(days=7)


def test_class_tests_warn_past_the_schools_limits(world):
    monday = _monday()
    _test(world.teacher_7a, world.class_7a, monday, "Mathe")
    with pytest.raises(calendars.TestLimitExceeded) as raised:
        _test(world.teacher_7a, world.class_7a, monday, "Englisch")
    assert raised.value.messages == [
        "7a würde an diesem Tag 2 Klassenarbeiten schreiben; erlaubt sind 1."
    ]
    _test(world.teacher_7a, world.class_7a, monday + timedelta(days=1), "Deutsch")
    _test(world.teacher_7a, world.class_7a, monday + timedelta(days=2), "Physik")
    with pytest.raises(calendars.TestLimitExceeded) as raised:
        _test(world.teacher_7a, world.class_7a, monday + timedelta(days=3), "Chemie")
    assert raised.value.messages == [
        "7a würde in dieser Woche 4 Klassenarbeiten schreiben; erlaubt sind 3."
    ]
    # The teacher may insist; another class is not counted.
    _test(world.teacher_7a, world.class_7a, monday + timedelta(days=3), "Chemie", confirmed=True)
    _test(world.teacher_7b, world.class_7b, monday, "Mathe")
    assert Event.objects.for_school(world.school).filter(group=world.class_7a).count() == 4


def test_the_form_shows_the_warning_and_saves_when_confirmed(world, client_for):
    monday = _monday()
    _test(world.teacher_7a, world.class_7a, monday)
    client = client_for(world.teacher_7a)
    data = {
        "title": "Vokabeltest",
        "day": monday.isoformat(),
        "starts": "10:00",
        "audience": "group",
        "group": world.class_7a.pk,
        "is_test": "on",
    }
    page = client.post("/timetable/calendar/new/", data).content.decode()
    assert "an diesem Tag 2 Klassenarbeiten" in page and "Trotzdem eintragen" in page
    assert client.post("/timetable/calendar/new/", {**data, "confirm": "on"}).status_code == 302
    saved = Event.objects.for_school(world.school).get(title="Vokabeltest")
    assert timezone.localtime(saved.ends_at).strftime("%H:%M") == "10:45"


def test_students_cannot_write_into_a_class_and_teachers_only_into_theirs(world, client_for):
    with pytest.raises(PermissionDenied):
        _test(world.teacher_7b, world.class_7a, _monday())
    page = client_for(world.student_7a).get("/timetable/calendar/new/").content.decode()
    assert 'name="group"' not in page
    response = client_for(world.student_7a).post(
        "/timetable/calendar/new/",
        {"title": "x", "day": "2026-09-07", "audience": "group", "group": world.class_7a.pk},
    )
    assert response.status_code == 200  # "group" is no choice for a student
    assert not Event.objects.for_school(world.school).exists()


def test_who_sees_which_date(world, client_for):
    day = _monday()
    calendars.create_event(
        world.student_7a, title="Zahnarzt", starts_at=_at(day, 14), ends_at=_at(day, 15)
    )
    _test(world.teacher_7a, world.class_7a, day, "Mathearbeit")
    calendars.create_event(
        world.admin,
        title="Elternsprechtag",
        starts_at=_at(day, 16),
        ends_at=_at(day, 19),
        audience=Event.Audience.SCHOOL,
    )
    url = f"/timetable/calendar/?day={day:%Y-%m-%d}"
    seen = {
        name: client_for(getattr(world, name)).get(url).content.decode()
        for name in ("student_7a", "classmate_7a", "student_7b", "teacher_7a", "other_student")
    }
    assert all(
        word in seen["student_7a"] for word in ("Zahnarzt", "Mathearbeit", "Elternsprechtag")
    )
    assert "Zahnarzt" not in seen["classmate_7a"] and "Mathearbeit" in seen["classmate_7a"]
    assert "Mathearbeit" not in seen["student_7b"] and "Elternsprechtag" in seen["student_7b"]
    assert "Zahnarzt" not in seen["teacher_7a"]  # a student's personal calendar is private
    assert "Elternsprechtag" not in seen["other_student"]  # other schools never


def test_only_who_has_personal_dates_reads_their_own_month(world):
    day = _monday()
    calendars.create_event(
        world.student_7a, title="Zahnarzt", starts_at=_at(day, 14), ends_at=_at(day, 15)
    )
    groups = [world.class_7a.pk]
    assert [i.title for i in calendars.events_for(world.student_7a, groups, day, day)] == [
        "Zahnarzt"
    ]
    with CaptureQueriesContext(connection) as queries:  # the month's school-wide parts cached
        assert calendars.events_for(world.classmate_7a, groups, day, day) == []
    assert len(queries) == 0
    calendars.create_event(
        world.classmate_7a, title="Training", starts_at=_at(day, 16), ends_at=_at(day, 17)
    )
    assert [i.title for i in calendars.events_for(world.classmate_7a, groups, day, day)] == [
        "Training"
    ]


def test_only_the_owner_deletes_a_personal_date(world, client_for):
    event = calendars.create_event(
        world.student_7a, title="Zahnarzt", starts_at=_at(_monday(), 14), ends_at=_at(_monday(), 15)
    )
    url = reverse("timetable:delete_event", args=[event.pk])
    assert client_for(world.admin).post(url).status_code == 404
    assert client_for(world.classmate_7a).post(url).status_code == 404
    assert client_for(world.student_7a).post(url).status_code == 302
    assert not Event.objects.for_school(world.school).exists()


HOLIDAYS_ICS = b"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Kultusministerium//Ferien//DE
BEGIN:VEVENT
UID:herbstferien-2026-ni
DTSTART;VALUE=DATE:20261012
DTEND;VALUE=DATE:20261024
SUMMARY:Herbstferien Niedersachsen
END:VEVENT
BEGIN:VEVENT
UID:weihnachtsferien-2026-ni
DTSTART;VALUE=DATE:20261223
DTEND;VALUE=DATE:20270106
SUMMARY:Weihnachtsferien
END:VEVENT
END:VCALENDAR
"""


def test_school_holidays_import_once_and_are_school_free(world, client_for):
    client = client_for(world.admin)
    upload = {"import_holidays": "1", "file": _file("ferien.ics", HOLIDAYS_ICS)}
    response = client.post("/timetable/calendar/settings/", upload, follow=True)
    assert "2 Schulferien hinzugefügt, 0 aktualisiert." in response.content.decode()
    assert calendars.import_holidays(world.admin, world.school, HOLIDAYS_ICS) == (0, 0)
    free = calendars.free_days(world.school.pk)
    assert free[date(2026, 10, 12)] == "Herbstferien Niedersachsen"
    assert free[date(2026, 10, 23)] == "Herbstferien Niedersachsen"
    assert free.get(date(2026, 10, 24)) != "Herbstferien Niedersachsen"  # DTEND is exclusive
    assert free[date(2026, 12, 25)] in ("1. Weihnachtstag", "Erster Weihnachtstag")
    assert calendars.next_school_day(date(2026, 10, 9), free) == date(2026, 10, 26)


def test_public_holidays_follow_the_schools_state(world, client_for):
    client_for(world.admin).post(
        "/timetable/calendar/settings/",
        {"save_settings": "1", "tests_per_day": 1, "tests_per_week": 2, "state": "BY"},
    )
    year = timezone.localdate().year
    assert date(year, 1, 6) in calendars.free_days(world.school.pk)  # Heilige Drei Könige
    assert calendars.settings_for(world.school.pk).tests_per_week == 2


def test_a_broken_holiday_file_is_explained(world, client_for):
    response = client_for(world.admin).post(
        "/timetable/calendar/settings/",
        {"import_holidays": "1", "file": _file("ferien.ics", b"kein Kalender")},
    )
    assert "keine Kalenderdatei" in response.content.decode()


def test_only_admins_change_calendar_settings(world, client_for):
    assert client_for(world.teacher_7a).get("/timetable/calendar/settings/").status_code == 403


def _file(name: str, data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="text/calendar")


def test_dates_on_the_dashboard(world, client_for):
    tomorrow = timezone.localdate() + timedelta(days=1)
    _test(world.teacher_7a, world.class_7a, tomorrow, "Mathearbeit")
    page = client_for(world.student_7a).get("/").content.decode()
    assert "Termine" in page and "Mathearbeit" in page
    assert "Mathearbeit" not in client_for(world.student_7b).get("/").content.decode()


def test_ical_subscription_parses_and_can_be_revoked(tt, client, client_for):
    student = client_for(tt.student_7a)
    day, _following = school_days(tt.school)
    _test(tt.mueller, tt.class_7a, day, "Mathearbeit")
    calendars.create_event(
        tt.student_7a, title="Zahnarzt", starts_at=_at(day, 15), ends_at=_at(day, 16)
    )
    student.post("/timetable/calendar/subscription/", {"action": "renew"})
    url = reverse("timetable:feed", args=[calendars.feed_token(tt.student_7a).token])
    assert url in student.get("/timetable/calendar/").content.decode()

    response = client.get(url)
    assert response["Content-Type"].startswith("text/calendar")
    feed = Calendar.from_ical(response.content)
    events = {str(event["SUMMARY"]): event for event in feed.walk("VEVENT")}
    assert "Klassenarbeit: Mathearbeit (7a)" in events and "Zahnarzt" in events
    cancelled = events["Entfall: Ma 7a"]
    assert str(cancelled["STATUS"]) == "CANCELLED"
    assert cancelled.decoded("DTSTART") == _at(day, 7) + timedelta(minutes=55)
    assert any(name.startswith("Vertretung: De 7a") for name in events)

    student.post("/timetable/calendar/subscription/", {"action": "revoke"})
    assert client.get(url).status_code == 404


def test_feeds_never_mix_people(tt, client):
    calendars.create_event(
        tt.student_7a, title="Zahnarzt", starts_at=_at(_monday(), 15), ends_at=_at(_monday(), 16)
    )
    token = calendars.renew_feed(tt.classmate_7a).token
    feed = client.get(reverse("timetable:feed", args=[token])).content.decode()
    assert "Zahnarzt" not in feed
    assert client.get(reverse("timetable:feed", args=["not-a-token"])).status_code == 404


def test_renewing_and_revoking_the_feed_address_is_audited_without_the_secret(tt, client_for):
    student = client_for(tt.student_7a)
    entries = AuditEntry.objects.for_school(tt.school).filter(action__startswith="calendar.feed")
    student.post("/timetable/calendar/subscription/", {"action": "renew"})
    first = calendars.feed_token(tt.student_7a).token
    student.post("/timetable/calendar/subscription/", {"action": "renew"})
    second = calendars.feed_token(tt.student_7a).token
    student.post("/timetable/calendar/subscription/", {"action": "revoke"})
    student.post("/timetable/calendar/subscription/", {"action": "revoke"})  # nothing left

    rows = list(entries.order_by("pk").values("action", "actor_id", "target_id", "details"))
    assert rows == [
        {"action": "calendar.feed_renewed", "actor_id": tt.student_7a.pk,
         "target_id": str(tt.student_7a.pk), "details": {"replaced": False}},
        {"action": "calendar.feed_renewed", "actor_id": tt.student_7a.pk,
         "target_id": str(tt.student_7a.pk), "details": {"replaced": True}},
        {"action": "calendar.feed_revoked", "actor_id": tt.student_7a.pk,
         "target_id": str(tt.student_7a.pk), "details": {}},
    ]  # fmt: skip
    stored = " ".join(f"{entry.target_label} {entry.details}" for entry in entries)
    assert first not in stored and second not in stored
    assert audit.label("calendar.feed_renewed") == "Kalender-Abo-Adresse erneuert"


def test_operator_imports_holidays_from_the_command_line(world, tmp_path):
    from io import StringIO

    from django.core.management import CommandError, call_command

    path = tmp_path / "ferien-ni.ics"
    path.write_bytes(HOLIDAYS_ICS)
    out = StringIO()
    call_command("import_holidays", str(path), school="nord", stdout=out)
    assert out.getvalue().strip() == "2 school holidays added, 0 updated."
    assert date(2026, 10, 12) in calendars.free_days(world.school.pk)
    (tmp_path / "kaputt.ics").write_bytes(b"kein Kalender")
    with pytest.raises(CommandError):
        call_command("import_holidays", str(tmp_path / "kaputt.ics"), school="nord")
