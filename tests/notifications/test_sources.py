"""The sources beyond tasks and absences: messages (respecting a room's mute), timetable
changes, video lessons starting, tasks due tomorrow (idempotent), and the daily digest."""

import json
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from kreide.messenger import services as messenger
from kreide.messenger.models import Room
from kreide.notifications import delivery, digest, services
from kreide.notifications.models import Notification, Preferences
from kreide.tasks import services as tasks
from kreide.tasks.models import Submission, Task
from kreide.timetable import events as timetable_events
from kreide.timetable.models import Substitution
from kreide.video import events as video_events
from kreide.video.models import VideoLesson
from tests.notifications.conftest import local

pytestmark = pytest.mark.django_db(transaction=True)


def _texts(user, kind=None) -> list[str]:
    found = Notification.objects.for_school(user.school_id).filter(user=user)
    if kind:
        found = found.filter(kind=kind)
    return list(found.values_list("text", flat=True))


def test_a_message_notifies_the_room_once_until_read_and_not_those_who_muted(world):
    room = messenger.sync_group_room(world.class_7a)
    messenger.set_notifications_off(world.classmate_7a, room.pk, True)
    messenger.send_message(world.teacher_7a, room.pk, "Morgen Sport!", "key-00000001")
    messenger.send_message(world.teacher_7a, room.pk, "Turnschuhe!", "key-00000002")
    name = world.teacher_7a.get_full_name()
    assert _texts(world.student_7a) == [f"Neue Nachricht in 7a von {name}"]  # one, not two
    assert _texts(world.classmate_7a) == []  # muted
    assert _texts(world.teacher_7a) == []  # the author
    assert _texts(world.student_7b) == []
    services.mark_read(world.student_7a)
    messenger.send_message(world.teacher_7a, room.pk, "Und Wasser.", "key-00000003")
    assert len(_texts(world.student_7a)) == 2


def test_a_message_sent_over_http_without_the_socket_notifies_the_room(world, client_for):
    """The page's HTTP fallback (`messenger:send`, what a page without its socket posts)
    notifies like the socket does: the other members, not those who muted the room."""
    room = messenger.sync_group_room(world.class_7a)
    messenger.set_notifications_off(world.classmate_7a, room.pk, True)
    answer = client_for(world.teacher_7a).post(
        reverse("messenger:send", args=[room.pk]),
        json.dumps({"text": "Morgen Sport!", "key": "key-http-0001"}),
        content_type="application/json",
    )
    assert answer.status_code == 201
    name = world.teacher_7a.get_full_name()
    assert _texts(world.student_7a, "message") == [f"Neue Nachricht in 7a von {name}"]
    assert _texts(world.classmate_7a) == []  # muted
    assert _texts(world.teacher_7a) == []  # the author
    assert _texts(world.student_7b) == []  # another class


def test_a_direct_message_names_its_author(world):
    room = messenger.open_direct(world.teacher_7a, world.student_7a)
    messenger.send_message(world.teacher_7a, room.pk, "Komm bitte vorbei", "key-00000004")
    assert room.kind == Room.Kind.DIRECT
    assert _texts(world.student_7a) == [f"Neue Nachricht von {world.teacher_7a.get_full_name()}"]


def test_the_mute_button_in_a_room(world, client_for):
    room = messenger.sync_group_room(world.class_7a)
    client = client_for(world.student_7a)
    client.post(reverse("messenger:notifications", args=[room.pk]), {"off": "1"})
    assert (
        "Benachrichtigungen"
        in client.get(reverse("messenger:room", args=[room.pk])).content.decode()
    )
    messenger.send_message(world.teacher_7a, room.pk, "Hallo", "key-00000005")
    assert _texts(world.student_7a) == []
    # Not a member: no such room.
    answer = client_for(world.student_7b).post(
        reverse("messenger:notifications", args=[room.pk]), {"off": "1"}
    )
    assert answer.status_code == 404


def test_substitutions_reach_the_class_and_the_teachers_once_per_day(world):
    today = timezone.localdate()
    rows = [
        Substitution.objects.for_school(world.school).create(
            day=today + timedelta(days=1),
            period=period,
            group=world.class_7a,
            kind=kind,
            teacher=world.teacher_7b,
            absent_teacher=world.teacher_7a,
        )
        for period, kind in ((3, "substitution"), (4, "cancelled"))
    ]
    old = Substitution.objects.for_school(world.school).create(
        day=today - timedelta(days=1), period=1, group=world.class_7b, kind="cancelled"
    )
    timetable_events.substitutions_added.publish(
        school_id=world.school.pk, substitution_ids=[row.pk for row in rows] + [old.pk]
    )
    day = (today + timedelta(days=1)).strftime("%d.%m.")
    expected = [f"Stundenplanänderung am {day}: 3. Stunde: Vertretung; 4. Stunde: Entfall"]
    for person in (world.student_7a, world.classmate_7a, world.teacher_7a, world.teacher_7b):
        assert _texts(person) == expected
    assert _texts(world.student_7b) == []  # yesterday's change in 7b is no news
    assert _texts(world.other_student) == []


def test_a_video_lesson_starting_tells_its_class(world):
    lesson = VideoLesson.objects.for_school(world.school).create(
        group=world.class_7a,
        teacher=world.teacher_7a,
        title="Bio live",
        starts_at=timezone.now(),
        ends_at=timezone.now() + timedelta(hours=1),
        join_opens_at=timezone.now(),
    )
    video_events.lesson_started.publish(lesson_id=lesson.pk)
    assert _texts(world.student_7a) == ["Die Videostunde hat begonnen: Bio live"]
    assert _texts(world.teacher_7a) == [] and _texts(world.student_7b) == []


def test_due_tomorrow_reminds_those_who_have_not_handed_in_once(world):
    tomorrow = local(10) + timedelta(days=1)
    task = tasks.save_task(
        world.teacher_7a,
        Task(title="Referat", starts_at=timezone.now() - timedelta(days=1), due_at=tomorrow),
        [world.class_7a],
        [],
    )
    Submission.objects.for_school(world.school).create(
        task=task,
        student=world.classmate_7a,
        text="x",
        status=Submission.Status.SUBMITTED,
        handed_in_at=timezone.now(),
    )
    assert services.remind_due_tomorrow() == 1
    assert services.remind_due_tomorrow() == 0  # idempotent: the hourly run adds nothing
    assert _texts(world.student_7a, "due_tomorrow") == ["Morgen fällig: Referat"]
    assert _texts(world.classmate_7a, "due_tomorrow") == []
    # Not due tomorrow seen from today+2.
    assert services.remind_due_tomorrow(now=timezone.now() + timedelta(days=2)) == 0


def test_the_digest_lists_unread_notifications_once_a_day(world, settings):
    settings.EMAIL_HOST = "mail.example.test"  # mail leaves through a relay here
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.PUBLIC_URL = "https://kreide.example.test"
    world.student_7a.email = "kim@example.test"
    world.student_7a.save()
    Preferences.objects.for_school(world.school).create(user=world.student_7a, digest=True)
    Preferences.objects.for_school(world.school).create(user=world.classmate_7a, digest=False)
    services.notify(
        world.school.pk,
        [world.student_7a.pk, world.classmate_7a.pk],
        "news",
        "Wandertag",
        "/news/1/",
    )
    services.notify(world.school.pk, [world.student_7a.pk], "news", "Gelesen")
    services.mark_read(
        world.student_7a,
        Notification.objects.for_school(world.school).get(user=world.student_7a, text="Gelesen").pk,
    )
    evening = local(18)
    assert digest.send_due(now=local(8)) == 0  # not before the hour
    assert digest.send_due(now=evening) == 1
    [sent] = mail.outbox
    assert sent.to == ["kim@example.test"]
    assert "1 ungelesene" in sent.subject
    assert "Wandertag" in sent.body and "https://kreide.example.test/news/1/" in sent.body
    assert "Gelesen" not in sent.body
    assert digest.send_due(now=evening) == 0  # once a day
    # The next day only what is new.
    services.notify(world.school.pk, [world.student_7a.pk], "news", "Sportfest")
    assert digest.send_due(now=evening + timedelta(days=1)) == 1
    assert "Sportfest" in mail.outbox[1].body and "Wandertag" not in mail.outbox[1].body


def test_no_digest_without_mail(world, settings, client_for):
    settings.EMAIL_HOST = ""
    settings.MAIL = "off"
    Preferences.objects.for_school(world.school).create(user=world.student_7a, digest=True)
    services.notify(world.school.pk, [world.student_7a.pk], "news", "Wandertag")
    assert not digest.available()
    assert digest.send_due(now=local(18)) == 0
    page = client_for(world.student_7a).get(reverse("notifications:settings")).content.decode()
    assert "E-Mail ist an dieser Schule nicht eingerichtet" in page
    # The rest works: the notification is delivered live and in the list.
    assert delivery.work_until_empty(now=local(12)) == 1
