"""The demo school `make run` creates: the printed logins show what Kreide can do."""

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.utils import timezone

from kreide.accounts.models import User
from kreide.news.models import News
from kreide.schools import access, demo
from kreide.schools.models import Membership
from kreide.video import services as video

pytestmark = pytest.mark.django_db


def test_sample_teacher_teaches_the_sample_students_class(
    client_for, capsys, django_capture_on_commit_callbacks
):
    # As `make run` commits it: the statistics refresh after commit runs too (without it a
    # parent's dashboard planned on statistics of emptied tables took minutes).
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo")
    printed = capsys.readouterr().out
    logins = demo.demo_logins()
    assert f"teacher:      {logins.teacher} (teaches class {logins.class_name})" in printed
    school = demo.School.objects.get(slug=demo.DEMO_SLUG)
    people = User.objects.for_school(school)
    student, teacher = people.get(username=logins.student), people.get(username=logins.teacher)
    classes = Membership.objects.for_school(school).filter(group__name=logins.class_name)
    assert classes.filter(user=student, role=Membership.Role.MEMBER).exists()
    assert classes.filter(user=teacher, role=Membership.Role.TEACHER).exists()
    assert people.get(username=logins.admin).role == User.Role.SCHOOL_ADMIN

    # The teacher's pages lead somewhere: a new task, the class's video lessons.
    as_teacher = client_for(teacher)
    assert "Neue Aufgabe" in as_teacher.get("/").content.decode()
    assert as_teacher.get("/tasks/new/").status_code == 200
    lessons = as_teacher.get("/video/").content.decode()
    assert "Videosprechstunde" in lessons and logins.class_name in lessons
    assert "Videosprechstunde" in client_for(student).get("/video/").content.decode()

    # The sample parent sees the student and a sibling in another class, and nobody else.
    assert f"parent:       {logins.parent}" in printed
    parent = people.get(username=logins.parent)
    children = list(access.children_of(parent))
    assert student in children and len(children) == 2
    page = client_for(parent).get(f"/parents/child/{student.pk}/")
    assert page.status_code == 200 and student.get_full_name() in page.content.decode()
    assert (
        people.filter(role=User.Role.PARENT).count()
        == people.filter(role=User.Role.STUDENT).count()
    )
    # The class teacher's parent letter waits for the sample parent; most others confirmed.
    overview = client_for(parent).get("/").content.decode()
    assert "Wandertag am Freitag" in overview and "Willkommen bei Kreide" in overview
    letter = News.objects.for_school(school).get(title="Wandertag am Freitag")
    assert "Zur Kenntnis genommen für" in (
        client_for(parent).get(f"/news/{letter.pk}/").content.decode()
    )
    receipts = as_teacher.get(f"/news/{letter.pk}/receipts/").content.decode()
    assert "bestätigt" in receipts and "Nicht bestätigt" in receipts


def test_a_teacher_without_classes_is_offered_nothing_that_leads_nowhere(
    world, make_user, client_for
):
    newcomer = client_for(make_user(world.school, User.Role.TEACHER))
    home = newcomer.get("/").content.decode()
    assert "Neue Aufgabe" not in home
    assert "Sie unterrichten noch keine Klasse oder Gruppe" in home
    assert "Neue Aufgabe" not in newcomer.get("/tasks/").content.decode()
    lessons = newcomer.get("/video/").content.decode()
    assert "Neue Videostunde" not in lessons and "Gestaffelte" not in lessons
    # The teacher of a class still gets both (where video is set up).
    cache.set(video.HEALTH_KEY, {"state": "down", "checked": timezone.now()})
    teacher = client_for(world.teacher_7a)
    assert "Neue Aufgabe" in teacher.get("/").content.decode()
    assert "Neue Videostunde" in teacher.get("/video/").content.decode()
