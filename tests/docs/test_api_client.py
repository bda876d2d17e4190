"""docs/examples/api_client.py against a real Kreide: it signs in, lists tasks, and when
Kreide turns it away it waits Retry-After plus backoff, a capped number of times."""

from __future__ import annotations

import importlib.util
import threading
from datetime import timedelta
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.db import connections
from django.utils import timezone

from kreide.tasks import services
from kreide.tasks.models import Task
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

_spec = importlib.util.spec_from_file_location(
    "api_client", Path(__file__).resolve().parents[2] / "docs" / "examples" / "api_client.py"
)
api_client = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(api_client)


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def kreide_url(settings):
    """Kreide's WSGI application on a loopback port, built after the test's settings."""

    def serve() -> str:
        server = make_server("127.0.0.1", 0, WSGIHandler(), WSGIServer, _Quiet)

        def run() -> None:
            try:
                server.serve_forever()
            finally:  # this thread's database connection, or the test database stays in use
                connections.close_all()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_port}"

    servers: list = []
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    yield serve
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_the_example_signs_in_and_lists_the_students_tasks(world, kreide_url):
    services.save_task(
        world.teacher_7a,
        Task(
            title="Bruchrechnung",
            description="1–6",
            starts_at=timezone.now() - timedelta(hours=1),
            due_at=timezone.now() + timedelta(days=1),
        ),
        [world.class_7a],
        (),
    )
    client = api_client.KreideClient(kreide_url())
    client.sign_in(world.student_7a.username, PASSWORD)
    assert [task["title"] for task in client.tasks()] == ["Bruchrechnung"]
    with pytest.raises(PermissionError):
        api_client.KreideClient(client.base_url).sign_in(world.student_7a.username, "falsch")


def test_the_example_honours_retry_after_and_gives_up(world, kreide_url, settings):
    settings.ADMISSION_ENABLED = True
    settings.ADMISSION_IN_FLIGHT = 0  # Kreide turns every page away: 503 + Retry-After
    settings.ADMISSION_QUEUE = 0
    settings.ADMISSION_RETRY_AFTER = 3
    waits: list[float] = []
    client = api_client.KreideClient(kreide_url(), attempts=4, sleep=waits.append)
    with pytest.raises(api_client.KreideBusy):
        client.request("GET", "/api/v1/tasks/")
    # Three waits between four attempts, each at least Retry-After (3-6 s), jittered extra
    # capped by the growing backoff.
    assert len(waits) == 3
    assert all(3 <= wait <= 6 + 2**attempt for attempt, wait in enumerate(waits))
