"""The worker `kreide notifications-work` as `kreide serve` runs it, on PostgreSQL: idle, it
waits for the queue's NOTIFY rather than polling, so a queued push goes out at once, a held
one when it is due, and it carries on after PostgreSQL ended its connections."""

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from kreide.notifications import services
from kreide.notifications.models import Notification
from tests.faults.conftest import _stop, database_url, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
# Bounded waits, generous for a loaded machine. Without the NOTIFY an idle worker would
# look again only at its next scheduled run, 600 s away.
SECONDS = 60


@pytest.fixture
def worker(receiver, tmp_path) -> Iterator[subprocess.Popen]:
    env = {**os.environ, "KREIDE_DATABASE_URL": database_url()}
    env.update(KREIDE_PUSH_SERVICES=receiver.origin, KREIDE_DATA_DIR=str(tmp_path))
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "kreide"), "notifications-work"],
            env=env,
            cwd=settings.BASE_DIR,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        _stop(process)
    assert process.returncode in (0, -15), log.read_text()


def _subscribe(client, receiver, token: str) -> None:
    answer = client.post(
        reverse("notifications:push_subscribe"),
        {"subscription": receiver.browser(token).subscription(receiver.origin)},
        content_type="application/json",
    )
    assert answer.status_code == 200, answer.content


def _bodies(receiver, token: str) -> list[str]:
    return [message["body"] for message in receiver.messages_for(token)]


def _listening_backend() -> int | None:
    """The worker's lock connection, which LISTENs while it leads."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND application_name LIKE 'kreide notifications %%'"
        )
        row = cursor.fetchone()
    return row[0] if row else None


def _delivered(world, receiver, token: str, text: str) -> None:
    services.notify(world.school.pk, [world.teacher_7a.pk], "news", text)
    wait_for(lambda: text in _bodies(receiver, token), SECONDS, f"the push {text!r}")


def test_a_queued_push_goes_out_without_waiting_for_a_poll(world, client_for, receiver, worker):
    # A teacher: no quiet hours hold their pushes, whatever the time of the test.
    _subscribe(client_for(world.teacher_7a), receiver, "teacher")
    _delivered(world, receiver, "teacher", "Erste")  # the worker is up and has gone idle
    wait_for(_listening_backend, SECONDS, "the worker listening")
    _delivered(world, receiver, "teacher", "Zweite")
    _delivered(world, receiver, "teacher", "Dritte")
    assert _bodies(receiver, "teacher") == ["Erste", "Zweite", "Dritte"]


def test_a_held_push_goes_out_when_it_is_due(world, client_for, receiver, worker):
    _subscribe(client_for(world.teacher_7a), receiver, "teacher")
    _delivered(world, receiver, "teacher", "Erste")
    # Delivered, its push held a few seconds (as quiet hours ending do): only the time
    # that comes wakes the worker for it.
    Notification.unscoped.create(
        school=world.school,
        user=world.teacher_7a,
        kind="news",
        text="Nach der Ruhezeit",
        delivered_at=timezone.now(),
        push_held_until=timezone.now() + timedelta(seconds=3),
    )
    wait_for(lambda: "Nach der Ruhezeit" in _bodies(receiver, "teacher"), SECONDS, "release")
    held = Notification.unscoped.filter(push_held_until__isnull=False)
    wait_for(lambda: not held.exists(), SECONDS, "the held push stamped as sent")


def test_the_worker_carries_on_after_postgresql_ended_its_connections(
    world, client_for, receiver, worker
):
    _subscribe(client_for(world.teacher_7a), receiver, "teacher")
    _delivered(world, receiver, "teacher", "Vorher")
    listening = wait_for(_listening_backend, SECONDS, "the worker listening")
    # As a restart of PostgreSQL ends them: the lock's (listening) and the queries'.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    wait_for(lambda: _listening_backend() not in (None, listening), SECONDS, "listening again")
    _delivered(world, receiver, "teacher", "Nachher")
    assert worker.poll() is None
