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
