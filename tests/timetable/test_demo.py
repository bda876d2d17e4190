import random

import pytest

from kreide.schools import demo
from kreide.schools.models import Group
from kreide.timetable import demo as timetable_demo
from kreide.timetable import services
from kreide.timetable.models import Event, Lesson, Substitution
from tests.timetable.conftest import school_days

pytestmark = pytest.mark.django_db


def test_demo_school_has_a_week_for_every_class_and_todays_changes(monkeypatch):
    monkeypatch.setattr(demo, "_module_seeders", lambda: [])
    school = demo.create_demo_school()
    timetable_demo.seed(school, random.Random(2021))

    classes = Group.objects.for_school(school).filter(kind=Group.Kind.CLASS)
    assert classes.count() == 48
    per_class = Lesson.objects.for_school(school).values_list("group_id", flat=True)
    counts = {pk: list(per_class).count(pk) for pk in classes.values_list("pk", flat=True)}
    assert min(counts.values()) >= 25
    assert services.conflicts(school) == []  # no teacher or room booked twice

    day, following = school_days(school)
    changes = Substitution.objects.for_school(school)
    for when in (day, following):
        kinds = set(changes.filter(day=when).values_list("kind", flat=True))
        assert kinds == {"cancelled", "substitution", "room"}
    tests = Event.objects.for_school(school).filter(kind=Event.Kind.TEST)
    assert tests.values("group").distinct().count() == tests.count() > 20  # one per class
    assert Event.objects.for_school(school).filter(audience=Event.Audience.SCHOOL).count() == 2
