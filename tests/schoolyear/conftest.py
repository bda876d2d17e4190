from datetime import date, timedelta

import pytest
from django.utils import timezone

from kreide.accounts.models import User
from kreide.messenger import services as messenger
from kreide.parents.models import ParentLink
from kreide.schoolyear import services
from kreide.schoolyear.models import ClassException, Leaver, RolloverRule, SchoolYear
from kreide.tasks import services as tasks
from kreide.tasks.models import Submission, Task


@pytest.fixture
def year(world, make_group, make_user, django_capture_on_commit_callbacks):
    """The world's school in 2025/26 with a final grade 10: 7a moves up, 7b merges into 8a
    by exception, 10a graduates; a leaver in 7a; a task with a submission and a class
    room message in 7a; a parent of student_7a."""
    w = world
    SchoolYear.objects.for_school(w.school).create(
        label="2025/26", starts_on=date(2025, 8, 1), ends_on=date(2026, 7, 31), is_current=True
    )
    RolloverRule.objects.for_school(w.school).create(final_grade=10, teachers_follow=True)
    w.class_10a = make_group(w.school, "10a", grade=10)
    w.graduate = make_user(w.school, groups=(w.class_10a,))
    w.teacher_10a = make_user(w.school, User.Role.TEACHER, groups=(w.class_10a,))
    w.course = make_group(w.school, "Chor", kind="workgroup", grade=None)
    ClassException.objects.for_school(w.school).create(group=w.class_7b, action="move", target="8a")
    w.leaver = make_user(w.school, groups=(w.class_7a,))
    Leaver.objects.for_school(w.school).create(user=w.leaver)
    w.parent = make_user(w.school, User.Role.PARENT)
    ParentLink.unscoped.create(school=w.school, parent=w.parent, child=w.student_7a)
    with django_capture_on_commit_callbacks(execute=True):
        w.task = tasks.save_task(
            w.teacher_7a,
            Task(
                title="Bruchrechnung",
                description="AUFGABENTEXT",
                starts_at=timezone.now() - timedelta(days=2),
                due_at=timezone.now() + timedelta(days=2),
                accept_late=True,
                expects=Task.Expects.TEXT,
            ),
            [w.class_7a],
            [],
        )
        messenger.sync_school_rooms(w.school.pk)
        room = w.class_7a.room
        messenger.send_message(w.student_7a, room.pk, "KLASSENCHAT", "key-0000000001")
    Submission.objects.for_school(w.school).create(
        task=w.task,
        student=w.student_7a,
        text="MEINE-ANTWORT",
        status=Submission.Status.SUBMITTED,
        handed_in_at=timezone.now(),
    )
    w.room = room
    return w


@pytest.fixture
def rolled(year, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        year.plan = services.rollover(year.admin, year.school, dry_run=False)
    for name in ("class_7a", "class_7b", "class_10a"):
        getattr(year, name).refresh_from_db()
    return year
