from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
from django.utils import timezone

from tests.notifications.receiver import PushReceiver


@pytest.fixture
def receiver(settings):
    """A push service on loopback that Kreide is allowed to post to."""
    with PushReceiver() as running:
        settings.PUSH_SERVICES = [running.origin]
        yield running


def local(hour: int, minute: int = 0) -> datetime:
    """Today at this local time (quiet hours are local)."""
    return timezone.localtime().replace(hour=hour, minute=minute, second=0, microsecond=0)


def in_thread(function, *args, **kwargs):
    """Run `function` in a thread of its own: channel-layer calls (async_to_sync) refuse
    the test thread once Playwright's event loop runs in it, as the worker never does."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(function, *args, **kwargs).result()


from tests.messenger.conftest import asgi_server  # noqa: E402, F401 - the real-time process
