"""A push service that cannot be reached, or no mail at all: notifications still land in
the list and the live count, the queue drains, and nothing waits on the dead part."""

import os
import signal
import socket
from datetime import time as clock

import pytest

from kreide.accounts.models import User
from kreide.notifications import delivery, digest, services, settings_services
from kreide.notifications.models import Notification, Preferences, QuietHours
from tests.faults.conftest import wait_for
from tests.notifications.conftest import local
from tests.notifications.receiver import Browser, PushReceiver

pytestmark = pytest.mark.django_db(transaction=True)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_push_service_costs_only_the_pushes(world, make_user, settings):
    dead = f"http://127.0.0.1:{_closed_port()}"
    settings.PUSH_SERVICES = [dead]
    students = [make_user(world.school, groups=(world.class_7a,)) for _ in range(6)]
    for student in students:
        settings_services.subscribe(student, Browser(f"s{student.pk}").subscription(dead))
    services.notify(world.school.pk, [s.pk for s in students], "news", "Schulfest")
    pusher = delivery.Pusher()
    assert delivery.work_until_empty(pusher, now=local(12)) == 6
    assert delivery.queue_length() == 0
    assert pusher.sent == 0 and pusher.failed == 6
    # After three failures in a row the service is paused, not asked once per subscription.
    assert pusher.paused_until
    for student in students:
        assert services.unread_count(student) == 1
        assert [n.text for n in services.latest(student)] == ["Schulfest"]


def test_with_mail_off_the_digest_is_skipped_and_the_rest_works(world, settings):
    settings.EMAIL_HOST, settings.MAIL = "", "off"
    Preferences.objects.for_school(world.school).create(user=world.student_7a, digest=True)
    services.notify(world.school.pk, [world.student_7a.pk], "news", "Wandertag")
    assert digest.send_due(now=local(18)) == 0
    assert delivery.work_until_empty(now=local(12)) == 1
    assert Notification.objects.for_school(world.school).get().delivered_at is not None


@pytest.mark.slow
def test_a_worker_killed_mid_fan_out_is_restarted_and_loses_nothing(world, kreide_serve, settings):
    """`kreide serve`'s notification worker killed (SIGKILL) while it pushes a fan-out:
    `kreide serve` starts it again and every recipient still gets the push."""
    QuietHours.objects.for_school(world.school).create(starts=clock(0), ends=clock(0))
    students = User.objects.bulk_create(
        User(school=world.school, username=f"fan{n}", role=User.Role.STUDENT) for n in range(400)
    )
    with PushReceiver() as receiver:
        settings.PUSH_SERVICES = [receiver.origin]
        for student in students:
            browser = receiver.browser(f"s{student.pk}")
            settings_services.subscribe(student, browser.subscription(receiver.origin))
        serve = kreide_serve(KREIDE_PUSH_SERVICES=receiver.origin)
        worker = wait_for(lambda: serve.children().get("notifications"), 30, "the worker")
        services.notify(world.school.pk, [s.pk for s in students], "news", "Hitzefrei")
        wait_for(lambda: len(receiver.received) >= 20, 60, "the first pushes")
        os.kill(worker, signal.SIGKILL)
        restarted = wait_for(
            lambda: serve.children().get("notifications") not in (None, worker), 30, "restart"
        )
        assert restarted
        wait_for(lambda: delivery.queue_length() == 0, 120, "the queue drained")
        missing = [s.pk for s in students if not receiver.messages_for(f"s{s.pk}")]
        assert missing == []
        # Only requests cut off by the kill itself arrived broken (at most those in flight).
        assert len(receiver.rejected) <= delivery.PUSH_THREADS
