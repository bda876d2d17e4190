"""The notification centre: events fan out to exactly the people concerned, the bell
counts unread ones from the cache, and each person reads and opens only their own."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from kreide.accounts.models import User
from kreide.notifications import delivery, services
from kreide.notifications.models import Notification
from kreide.parents.models import ParentLink
from kreide.tasks import services as tasks
from kreide.tasks.models import Submission, Task

pytestmark = pytest.mark.django_db(transaction=True)  # events are delivered after commit


def _texts(user) -> list[str]:
    return list(
        Notification.objects.for_school(user.school_id)
        .filter(user=user)
        .values_list("text", flat=True)
    )


def _new_task(world) -> Task:
    return tasks.save_task(
        world.teacher_7a,
        Task(
            title="Gedichtanalyse",
            starts_at=timezone.now(),
            due_at=timezone.now() + timedelta(days=3),
        ),
        [world.class_7a],
        [],
    )


def test_a_new_task_notifies_its_class_once_each(world):
    task = _new_task(world)
    for student in (world.student_7a, world.classmate_7a):
        assert _texts(student) == ["Neue Aufgabe: Gedichtanalyse"]
    for outsider in (world.student_7b, world.teacher_7a, world.other_student):
        assert _texts(outsider) == []
    # Editing the task is no new task.
    task.title = "Gedichtanalyse (neu)"
    tasks.save_task(world.teacher_7a, task, [world.class_7a], [])
    assert len(_texts(world.student_7a)) == 1


def test_feedback_and_return_reach_the_student(world):
    task = _new_task(world)
    submission = Submission.objects.for_school(world.school).create(
        task=task,
        student=world.student_7a,
        text="x",
        status=Submission.Status.SUBMITTED,
        handed_in_at=timezone.now(),
    )
    tasks.review(world.teacher_7a, submission, "Bitte Strophe 3 ergänzen", return_for_revision=True)
    assert "Zur Überarbeitung zurück: Gedichtanalyse" in _texts(world.student_7a)
    assert len(_texts(world.classmate_7a)) == 1  # only the new task


def test_absence_reaches_class_teachers_and_office_and_the_ack_the_parent(
    world, make_user, client_for
):
    parent = make_user(world.school, User.Role.PARENT)
    ParentLink.unscoped.create(school=world.school, parent=parent, child=world.student_7a)
    client_for(parent).post(
        reverse("parents:report_absence", args=[world.student_7a.pk]),
        {"first_day": "2026-03-02", "last_day": "2026-03-03", "note": ""},
    )
    for reader in (world.teacher_7a, world.admin):
        assert len(_texts(reader)) == 1 and "Krankmeldung" in _texts(reader)[0]
    for outsider in (world.teacher_7b, world.other_admin, world.classmate_7a):
        assert _texts(outsider) == []
    report = world.student_7a.absence_reports.get()
    client_for(world.teacher_7a).post(reverse("parents:acknowledge", args=[report.pk]))
    assert _texts(parent) == [
        f"Die Schule hat die Krankmeldung von {world.student_7a.get_full_name()} bestätigt."
    ]


def test_notifying_many_costs_the_writer_a_fixed_number_of_queries_and_no_counting(
    world, make_user, django_assert_max_num_queries
):
    """The unread counts are the worker's: the writer only stores the rows (nothing is
    lost while the worker is away), the worker counts them for the bell."""
    few = [world.student_7a.pk]
    many = [make_user(world.school, groups=(world.class_7a,)).pk for _ in range(30)]
    with django_assert_max_num_queries(2):  # who turned the source off, the inserts
        assert services.notify(world.school.pk, few, "news", "Hitzefrei") == 1
    with django_assert_max_num_queries(2):
        assert services.notify(world.school.pk, many, "news", "Hitzefrei") == 30
    # Only the school's people: another school's id is left out.
    assert services.notify(world.school.pk, [world.other_student.pk], "news", "Hitzefrei") == 0
    assert services.unread_count(world.student_7a) == 0  # not counted in the request
    assert Notification.objects.for_school(world.school).count() == 31  # but stored
    delivery.work_until_empty()
    assert services.unread_count(world.student_7a) == 1
    assert {services.unread_count(User(pk=pk, school=world.school)) for pk in many} == {1}
    services.notify(world.school.pk, few, "news", "Wandertag")
    delivery.work_until_empty()
    assert services.unread_count(world.student_7a) == 2
    services.mark_read(world.student_7a)
    assert services.unread_count(world.student_7a) == 0


def test_the_count_costs_no_query_and_follows_marking_read(
    world, client_for, django_assert_num_queries
):
    _new_task(world)
    delivery.work_until_empty()
    student = world.student_7a
    with django_assert_num_queries(0):  # every page shows it
        assert services.unread_count(student) == 1
        assert services.unread_count(world.student_7b) == 0
    client = client_for(student)
    page = client.get(reverse("notifications:index")).content.decode()
    assert "Gedichtanalyse" in page
    note = Notification.objects.for_school(world.school).get(user=student)
    # Someone else cannot open (or mark) it.
    stranger = client_for(world.classmate_7a)
    assert stranger.post(reverse("notifications:open", args=[note.pk])).status_code == 404
    opened = client.post(reverse("notifications:open", args=[note.pk]))
    assert opened["Location"] == reverse("tasks:detail", args=[Task.unscoped.get().pk])
    assert services.unread_count(student) == 0
    assert services.unread_count(world.classmate_7a) == 1
    client_for(world.classmate_7a).post(reverse("notifications:read_all"))
    assert services.unread_count(world.classmate_7a) == 0
    # A count the cache lost reads as none until the list page renews it.
    _new_task(world)
    delivery.work_until_empty()
    cache.clear()
    assert services.unread_count(student) == 0
    client.get(reverse("notifications:index"))
    assert services.unread_count(student) == 1
