"""The parent's page per child: each child's own lessons, substitutions and dates, never a
sibling's, in a number of queries that does not grow with them."""

from datetime import datetime, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from kreide.accounts.models import User
from kreide.timetable import calendars
from kreide.timetable.models import Event
from tests.timetable.conftest import run_import, school_days
from tests.visible import shows

pytestmark = pytest.mark.django_db


@pytest.fixture
def timetable(family, make_user):
    """The Untis fixture imported for the family's school: its teachers MÜL and SCH, 7a's
    and 7b's lessons, and substitutions on the next two school days."""
    make_user(family.school, User.Role.TEACHER, groups=(family.class_7a,), last_name="Müller")
    make_user(family.school, User.Role.TEACHER, groups=(family.class_7b,), last_name="Schäfer")
    run_import(family.school)
    return family


def _page(client, child) -> str:
    response = client.get(reverse("parents:child", args=[child.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_each_child_page_shows_that_childs_lessons_and_substitutions(timetable, client_for):
    client = client_for(timetable.parent)
    first, _following = school_days(timetable.school)
    seven_a = _page(client, timetable.student_7a)
    # 7a's maths is cancelled ("Aufgaben im Kreide-Ordner"), German is covered by Müller.
    assert "Aufgaben im Kreide-Ordner" in seven_a and "Übungen zur Grammatik" in seven_a
    assert "<del>Schäfer</del> Müller" in seven_a
    assert shows(seven_a, "R101")  # 7a's room
    assert not shows(seven_a, "AULA")  # 7b's room change
    assert f"day-{first:%Y%m%d}" in seven_a  # the next school day, whatever today is
    sibling = _page(client, timetable.sibling_7b)
    # 7b's room change, and its maths room (R102, Tuesday to Friday: on any two school days).
    assert shows(sibling, "AULA") and shows(sibling, "R102")
    assert not shows(sibling, "Aufgaben im Kreide-Ordner")
    assert not shows(sibling, "Übungen zur Grammatik")


def _event(actor, title: str, days_ahead: int, **fields) -> Event:
    day = timezone.localdate() + timedelta(days=days_ahead)
    starts = timezone.make_aware(datetime.combine(day, time(10)))
    return calendars.create_event(
        actor, title=title, starts_at=starts, ends_at=starts + timedelta(hours=1), **fields
    )


def _dates(family) -> None:
    group = Event.Audience.GROUP
    _event(family.teacher_7a, "Mathearbeit", 3, audience=group, group=family.class_7a,
           kind=Event.Kind.TEST, confirmed=True)  # fmt: skip
    _event(family.teacher_7b, "Wandertag", 4, audience=group, group=family.class_7b)
    _event(family.admin, "Sommerfest", 5, audience=Event.Audience.SCHOOL, location="Schulhof")
    _event(family.student_7a, "Geheimer Termin", 2)  # the child's own calendar
    _event(family.parent, "Zahnarzt Mutter", 2)  # the parent's own calendar
    _event(family.teacher_7a, "Fern im Jahr", 40, audience=group, group=family.class_7a)
    _event(family.other_admin, "Anderes Schulfest", 5, audience=Event.Audience.SCHOOL)


def test_each_child_page_shows_the_school_dates_and_that_childs_class_dates(family, client_for):
    _dates(family)
    client = client_for(family.parent)
    seven_a = _page(client, family.student_7a)
    assert "Mathearbeit" in seven_a and "Klassenarbeit" in seven_a  # the kind's label
    assert "Sommerfest" in seven_a and "Schulhof" in seven_a
    for hidden in ("Wandertag", "Geheimer Termin", "Zahnarzt Mutter", "Fern im Jahr"):
        assert hidden not in seven_a, hidden
    assert "Anderes Schulfest" not in seven_a
    sibling = _page(client, family.sibling_7b)
    assert "Wandertag" in sibling and "Sommerfest" in sibling
    assert "Mathearbeit" not in sibling and "Geheimer Termin" not in sibling
    # The second parent sees 7a's dates, and the sibling's page is not theirs.
    assert "Mathearbeit" in _page(client_for(family.second_parent), family.student_7a)
    refused = client_for(family.second_parent).get(
        reverse("parents:child", args=[family.sibling_7b.pk])
    )
    assert refused.status_code == 403


def test_a_deactivated_class_takes_its_dates_off_the_child_page(family, client_for, deactivate):
    _dates(family)
    deactivate(family.class_7a)
    page = _page(client_for(family.parent), family.student_7a)
    assert "Sommerfest" in page and "Mathearbeit" not in page


def test_no_dates_is_said_in_german(family, client_for):
    page = _page(client_for(family.parent), family.student_7a)
    assert "Termine" in page and "Keine Termine in den nächsten vier Wochen." in page


def test_the_child_page_costs_the_same_queries_however_much_there_is(
    timetable, client_for, django_assert_max_num_queries
):
    client = client_for(timetable.parent)
    url = reverse("parents:child", args=[timetable.student_7a.pk])
    client.get(url)  # fills the caches (tasks, calendar months, timetable)
    client.get(url)  # the user kept in the process where Redis is shared (accounts.keptuser)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    _dates(timetable)
    for number in range(8):
        _event(timetable.teacher_7a, f"Termin {number}", 6 + number,
               audience=Event.Audience.GROUP, group=timetable.class_7a)  # fmt: skip
    with django_assert_max_num_queries(20):
        page = client.get(url).content.decode()  # the calendar's cache was renewed
    assert "Termin 7" in page and "Mathearbeit" in page
    with CaptureQueriesContext(connection) as many:
        client.get(url)
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


def test_a_child_who_has_not_signed_in_yet_is_followed_all_the_same(timetable, client_for):
    """Imported students start with an initial password; their parents (imported with
    them) see their tasks, lessons and dates from the first day."""
    from kreide.tasks import services as tasks
    from kreide.tasks.models import Task

    _dates(timetable)  # with the child's own date, written before the reset
    child = timetable.student_7a
    child.must_change_password = True
    child.save(update_fields=["must_change_password"])
    tasks.save_task(
        timetable.teacher_7a,
        Task(
            title="Bruchrechnung",
            starts_at=timezone.now() - timedelta(hours=1),
            due_at=timezone.now() + timedelta(days=2),
        ),
        [timetable.class_7a],
        [],
    )
    page = _page(client_for(timetable.parent), child)
    assert "Bruchrechnung" in page and "Aufgaben im Kreide-Ordner" in page
    assert "Mathearbeit" in page
    # Not the classmate's: a child is followed only by their own parents.
    from kreide.schools import access

    assert access.child_group_ids(timetable.parent, timetable.classmate_7a) == []
    assert access.child_group_ids(timetable.parent, child) == [timetable.class_7a.pk]
