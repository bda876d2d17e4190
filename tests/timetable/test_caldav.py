"""CalDAV with a real client (the `caldav` package) against Kreide's live server."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import caldav
import pytest
from caldav.lib.error import AuthorizationError, DAVError
from django.utils import timezone

from kreide.timetable import calendars
from kreide.timetable.models import Event
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

NEW_EVENT = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Test//Phone//DE
BEGIN:VEVENT
UID:zahnarzt-20270114@phone
DTSTAMP:20270101T120000Z
DTSTART:20270114T140000Z
DTEND:20270114T150000Z
SUMMARY:Zahnarzt
LOCATION:Praxis Dr. Weiß
BEGIN:VALARM
ACTION:DISPLAY
TRIGGER:-PT30M
DESCRIPTION:Zahnarzt
END:VALARM
END:VEVENT
END:VCALENDAR
"""


@pytest.fixture
def dav(live_server):
    """CalDAV clients for users; closed after the test, so the live server's threads end
    their keep-alive connections (and database connections) before the database goes."""
    opened = []

    def connect(user, password: str = PASSWORD) -> caldav.DAVClient:
        client = caldav.DAVClient(
            url=f"{live_server.url}/caldav/", username=user.username, password=password
        )
        opened.append(client)
        return client

    yield connect
    for client in opened:
        client.close()


def _calendars(client) -> dict[str, caldav.Calendar]:
    return {calendar.get_display_name(): calendar for calendar in client.principal().calendars()}


def test_phone_creates_lists_and_deletes_a_personal_event(world, live_server, dav):
    found = _calendars(dav(world.student_7a))
    assert set(found) == {"Persönlich", "Gymnasium Nord", "7a"}
    personal = found["Persönlich"]
    personal.save_event(NEW_EVENT)

    stored = Event.objects.for_school(world.school).get(uid="zahnarzt-20270114@phone")
    assert (stored.title, stored.location, stored.owner) == (
        "Zahnarzt",
        "Praxis Dr. Weiß",
        world.student_7a,
    )
    assert timezone.localtime(stored.starts_at).strftime("%H:%M") == "15:00"  # Berlin
    events = personal.events()
    assert len(events) == 1
    assert "TRIGGER:-PT30M" in events[0].data  # the phone's alarm comes back unchanged

    events[0].delete()
    assert not Event.objects.for_school(world.school).exists()


RECURRING = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Test//Phone//DE
BEGIN:VEVENT
UID:chor-monthly@phone
DTSTAMP:20270101T120000Z
DTSTART:20270112T120000Z
DTEND:20270112T130000Z
RRULE:FREQ=MONTHLY
SUMMARY:Chor
END:VEVENT
END:VCALENDAR
"""


def test_a_recurring_event_is_stored_and_expanded_by_the_server(world, live_server, dav):
    """A client's RRULE series: stored unchanged, and a time-range search that asks the
    server to expand it (calendar-data and getetag, as caldav-server-tester and phones
    ask) returns the one occurrence in range, not a 400."""
    personal = _calendars(dav(world.student_7a))["Persönlich"]
    personal.save_event(RECURRING)
    stored = Event.objects.for_school(world.school).get(uid="chor-monthly@phone")
    assert "RRULE:FREQ=MONTHLY" in stored.ical
    assert "RRULE:FREQ=MONTHLY" in personal.events()[0].data

    for _again in range(2):  # the stored series is unchanged by an expansion
        found = personal.search(
            event=True,
            start=datetime(2027, 3, 1, tzinfo=UTC),
            end=datetime(2027, 3, 31, tzinfo=UTC),
            expand=True,
            server_expand=True,
        )
        assert len(found) == 1
        occurrence = found[0].icalendar_component
        assert str(occurrence["SUMMARY"]) == "Chor"
        assert occurrence["DTSTART"].dt == datetime(2027, 3, 12, 12, tzinfo=UTC)
        assert "RRULE" not in occurrence
    assert "RRULE:FREQ=MONTHLY" in personal.events()[0].data


def test_school_and_class_calendars_are_read_only(world, live_server, dav):
    day = timezone.localdate() + timedelta(days=3)
    starts = timezone.make_aware(datetime.combine(day, datetime.min.time())) + timedelta(hours=8)
    calendars.create_event(
        world.teacher_7a,
        title="Wandertag",
        starts_at=starts,
        ends_at=starts + timedelta(hours=6),
        audience=Event.Audience.GROUP,
        group=world.class_7a,
    )
    found = _calendars(dav(world.student_7a))
    class_calendar = found["7a"]
    assert [event.icalendar_component["SUMMARY"] for event in class_calendar.events()] == [
        "Wandertag (7a)"
    ]
    with pytest.raises(DAVError):
        class_calendar.save_event(NEW_EVENT)
    with pytest.raises(DAVError):
        found["Gymnasium Nord"].save_event(NEW_EVENT)
    assert Event.objects.for_school(world.school).count() == 1


def test_nobody_reaches_another_persons_calendars(world, live_server, dav):
    calendars.create_event(
        world.student_7a,
        title="Zahnarzt",
        starts_at=timezone.now(),
        ends_at=timezone.now() + timedelta(hours=1),
    )
    client = dav(world.classmate_7a)
    other = client.calendar(url=f"{live_server.url}/caldav/{world.student_7a.username}/personal/")
    with pytest.raises(DAVError):
        other.events()
    wrong = dav(world.student_7a, "falsch")
    with pytest.raises(AuthorizationError):
        wrong.principal()


def test_well_known_points_to_caldav(client):
    response = client.get("/.well-known/caldav")
    assert response.status_code == 301 and response["Location"] == "/caldav/"


@pytest.mark.slow
def test_caldav_server_tester_profile_is_unchanged(world, live_server):
    """caldav-server-tester probes ~40 behaviours and always exits 0: its JSON is compared
    with the profile committed beside this test (what Kreide supports, and what not)."""
    run = subprocess.run(
        [
            str(Path(sys.executable).with_name("caldav-server-tester")),
            "--caldav-url",
            f"{live_server.url}/caldav/",
            "--caldav-username",
            world.student_7a.username,
            "--caldav-password",
            PASSWORD,
            "--caldav-calendar",
            "Persönlich",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    observed = {
        name: found["support"] for name, found in json.loads(run.stdout)["features"].items()
    }
    expected = json.loads((Path(__file__).parent / "caldav_profile.json").read_text())["features"]
    assert observed == expected
    assert not Event.objects.for_school(world.school).exists()  # the tester cleaned up
