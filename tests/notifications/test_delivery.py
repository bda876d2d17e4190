"""Delivery: Web Push that a real push service accepts (VAPID verified, payload decrypted
with the browser's key), live updates over the channel layer, quiet hours, settings, the
queue surviving a crash, and gone subscriptions removed."""

from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.urls import reverse
from django.utils import timezone

from kreide.notifications import delivery, health, services, settings_services, vapid
from kreide.notifications.models import Notification, PushSubscription
from tests.notifications.conftest import in_thread, local

pytestmark = pytest.mark.django_db(transaction=True)
NOON = local(12)


def _subscribe(client, receiver, token: str):
    browser = receiver.browser(token)
    answer = client.post(
        reverse("notifications:push_subscribe"),
        {"subscription": browser.subscription(receiver.origin)},
        content_type="application/json",
    )
    assert answer.status_code == 200, answer.content
    return browser


def test_a_push_is_signed_with_vapid_and_readable_only_with_the_browsers_key(
    world, client_for, receiver
):
    _subscribe(client_for(world.student_7a), receiver, "phone")
    _subscribe(client_for(world.student_7a), receiver, "laptop")
    services.notify(
        world.school.pk, [world.student_7a.pk], "new_task", "Neue Aufgabe: Lyrik", "/t/"
    )
    assert delivery.work_until_empty(now=NOON) == 1
    assert receiver.rejected == []
    for token in ("phone", "laptop"):
        [message] = receiver.messages_for(token)
        assert message["body"] == "Neue Aufgabe: Lyrik" and message["url"] == "/t/"
        assert message["count"] == 1
    # Signed with the key browsers subscribe with, made once and kept.
    assert receiver.keys == {vapid.public_key()}
    assert Notification.objects.for_school(world.school).get().delivered_at is not None
    # Delivered once: running again sends nothing.
    assert delivery.work_until_empty(now=NOON) == 0
    assert len(receiver.received) == 2


def test_a_subscription_the_push_service_calls_gone_is_removed(world, client_for, receiver):
    _subscribe(client_for(world.student_7a), receiver, "old-phone")
    _subscribe(client_for(world.student_7a), receiver, "new-phone")
    receiver.gone.add("old-phone")
    services.notify(world.school.pk, [world.student_7a.pk], "new_task", "x")
    delivery.work_until_empty(now=NOON)
    left = PushSubscription.objects.for_school(world.school).values_list("endpoint", flat=True)
    assert [endpoint.rsplit("/", 1)[1] for endpoint in left] == ["new-phone"]
    assert len(receiver.messages_for("new-phone")) == 1


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://169.254.169.254/latest/meta-data",
        "https://fcm.googleapis.com.evil.example/x",
        "http://fcm.googleapis.com/fcm/send/x",
        "https://user:pw@fcm.googleapis.com/x",
        "file:///etc/passwd",
    ],
)
def test_only_listed_push_services_are_accepted(world, client_for, settings, endpoint):
    settings.PUSH_SERVICES = ["fcm.googleapis.com", "*.push.apple.com"]
    answer = client_for(world.student_7a).post(
        reverse("notifications:push_subscribe"),
        {"subscription": {"endpoint": endpoint, "keys": {"p256dh": "a", "auth": "b"}}},
        content_type="application/json",
    )
    assert answer.status_code == 400
    assert "nicht erlaubt" in answer.json()["message"]
    assert not PushSubscription.unscoped.exists()
    assert delivery.endpoint_allowed("https://fcm.googleapis.com/fcm/send/abc")
    assert delivery.endpoint_allowed("https://web.push.apple.com/QG")
    assert not delivery.endpoint_allowed("https://push.apple.com.example/QG")


def test_quiet_hours_hold_students_pushes_and_release_one_summary(
    world, client_for, receiver, django_assert_num_queries
):
    for user, token in ((world.student_7a, "student"), (world.teacher_7a, "teacher")):
        _subscribe(client_for(user), receiver, token)
    night = local(22)
    for text in ("Erste", "Zweite"):
        services.notify(world.school.pk, [world.student_7a.pk, world.teacher_7a.pk], "news", text)
    delivery.work_until_empty(now=night)
    assert receiver.messages_for("student") == []  # held
    assert sorted(m["body"] for m in receiver.messages_for("teacher")) == ["Erste", "Zweite"]
    # Still in the list at once.
    page = client_for(world.student_7a).get(reverse("notifications:index")).content.decode()
    assert "Erste" in page and "Zweite" in page
    # Before the morning nothing; after it one summary.
    # Nothing due yet: one query, the idle worker's cost twice a second.
    with django_assert_num_queries(1):
        assert delivery.release_held(now=local(23)) == 0
    assert delivery.release_held(now=local(7, 1) + timedelta(days=1)) == 1
    [summary] = receiver.messages_for("student")
    assert summary["body"] == "2 neue Benachrichtigungen"
    assert delivery.release_held(now=local(8) + timedelta(days=1)) == 0


def test_the_school_sets_its_quiet_hours(world, client_for, receiver):
    _subscribe(client_for(world.student_7a), receiver, "student")
    client_for(world.admin).post(
        reverse("notifications:settings"),
        {"quiet": "1", "quiet-starts": "12:00", "quiet-ends": "12:00", "quiet-for_students": "on"},
    )
    # The same time twice: no quiet hours at all.
    services.notify(world.school.pk, [world.student_7a.pk], "news", "Mittag")
    delivery.work_until_empty(now=local(22))
    assert [m["body"] for m in receiver.messages_for("student")] == ["Mittag"]
    # A teacher cannot change them.
    client_for(world.teacher_7a).post(
        reverse("notifications:settings"),
        {"quiet": "1", "quiet-starts": "08:00", "quiet-ends": "18:00", "quiet-for_everyone": "on"},
    )
    assert settings_services.quiet_hours_of(world.school.pk).starts.hour == 12


def test_settings_switch_push_and_live_off(world, client_for, receiver):
    client = client_for(world.student_7a)
    _subscribe(client, receiver, "phone")
    layer = get_channel_layer()

    async def listen_while_delivering() -> dict:
        # One event loop for the whole exchange, as the real-time process has.
        channel = await layer.new_channel()
        await layer.group_add(delivery.user_group(world.student_7a.pk), channel)
        await sync_to_async(delivery.work_until_empty)(now=NOON)
        return await layer.receive(channel)

    services.notify(world.school.pk, [world.student_7a.pk], "news", "Eins")
    event = in_thread(async_to_sync(listen_while_delivering))
    assert '"text": "Eins"' in event["text"] and '"count": 1' in event["text"]
    assert len(receiver.messages_for("phone")) == 1

    answer = client.post(reverse("notifications:settings"), {"me-digest": ""})
    assert answer.status_code == 302
    services.notify(world.school.pk, [world.student_7a.pk], "news", "Zwei")
    delivery.work_until_empty(now=NOON)
    assert len(receiver.messages_for("phone")) == 1  # no push
    page = client.get(reverse("notifications:index")).content.decode()
    assert "Zwei" in page and 'data-socket=""' in page  # no live socket either


def test_a_crash_mid_fan_out_loses_nothing(world, make_user, client_for, receiver, monkeypatch):
    monkeypatch.setattr(delivery, "BATCH", 10)
    students = [make_user(world.school, groups=(world.class_7a,)) for _ in range(25)]
    for student in students:
        browser = receiver.browser(f"s{student.pk}")
        settings_services.subscribe(student, browser.subscription(receiver.origin))

    class Crash(BaseException):
        pass

    class CrashingPusher(delivery.Pusher):
        def push(self, messages):
            super().push(messages[: len(messages) // 2])  # half out, then the process dies
            raise Crash

    services.notify(world.school.pk, [s.pk for s in students], "news", "Hitzefrei")
    with pytest.raises(Crash):
        delivery.work_until_empty(CrashingPusher(), now=NOON)
    assert delivery.queue_length() == 25  # nothing stamped that was not sent
    # The restarted worker delivers everything.
    assert delivery.work_until_empty(now=NOON) == 25
    assert delivery.queue_length() == 0
    for student in students:
        assert 1 <= len(receiver.messages_for(f"s{student.pk}")) <= 2
    assert receiver.rejected == []


def test_subscriptions_belong_to_their_person(world, client_for, receiver):
    browser = _subscribe(client_for(world.student_7a), receiver, "shared")
    endpoint = browser.subscription(receiver.origin)["endpoint"]
    # Someone else cannot remove it...
    answer = client_for(world.classmate_7a).post(
        reverse("notifications:push_unsubscribe"), {"endpoint": endpoint}, "application/json"
    )
    assert answer.json() == {"removed": False}
    assert PushSubscription.unscoped.get().user == world.student_7a
    # ...but the same browser subscribing for another person moves it to them.
    client = client_for(world.classmate_7a)
    client.post(
        reverse("notifications:push_subscribe"),
        {"subscription": browser.subscription(receiver.origin)},
        content_type="application/json",
    )
    assert PushSubscription.unscoped.get().user == world.classmate_7a
    answer = client.post(
        reverse("notifications:push_unsubscribe"), {"endpoint": endpoint}, "application/json"
    )
    assert answer.json() == {"removed": True}
    assert not PushSubscription.unscoped.exists()


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"subscription": {"endpoint": 5}}'])
def test_a_garbled_subscription_is_refused_clearly(world, client_for, body):
    answer = client_for(world.student_7a).post(
        reverse("notifications:push_subscribe"), body, content_type="application/json"
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "push_refused"


def test_the_count_endpoint_costs_no_query(world, client_for, django_assert_max_num_queries):
    services.notify(world.school.pk, [world.student_7a.pk], "news", "x")
    delivery.work_until_empty()  # the worker counts
    client = client_for(world.student_7a)
    client.get(reverse("notifications:count"))  # the session is cached from here on
    with django_assert_max_num_queries(1):
        assert client.get(reverse("notifications:count")).json() == {"count": 1}
    client.logout()
    assert client.get(reverse("notifications:count")).status_code == 401


def test_status_shows_a_queue_that_does_not_move(world):
    assert health.check() is None
    services.notify(world.school.pk, [world.student_7a.pk, world.student_7b.pk], "news", "x")
    assert health.check() is None  # just written: the worker has two minutes
    Notification.unscoped.update(created_at=timezone.now() - timedelta(minutes=5))
    assert health.check() == "2 waiting, the oldest for 5 min"
    delivery.work_until_empty(now=NOON)
    assert health.check() is None


def test_the_settings_page_costs_a_bounded_number_of_queries(
    world, client_for, receiver, django_assert_max_num_queries
):
    client = client_for(world.admin)
    for n in range(3):
        _subscribe(client, receiver, f"device{n}")
    client.get(reverse("notifications:settings"))  # the VAPID key is made on first use
    with django_assert_max_num_queries(12) as defaults:
        page = client.get(reverse("notifications:settings"))
    assert page.status_code == 200
    assert "an 3 Browser" in page.content.decode()
    # Per-source choices live in the same row: they cost the page no query.
    client.post(reverse("notifications:settings"), {"me-source_news": "off"})
    with django_assert_max_num_queries(12) as chosen:
        page = client.get(reverse("notifications:settings"))
    assert 'value="off" selected' in page.content.decode()
    assert len(chosen.captured_queries) == len(defaults.captured_queries)
