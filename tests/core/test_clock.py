from datetime import timedelta

from django.test import RequestFactory
from django.utils import timezone

from kreide.core import clock


def test_the_local_time_is_read_once_per_request(monkeypatch):
    request = RequestFactory().get("/")
    first = clock.local_now(request)
    assert first.tzinfo is not None and first.utcoffset() == timezone.localtime().utcoffset()
    later = first + timedelta(hours=1)
    monkeypatch.setattr(timezone, "localtime", lambda: later)
    assert clock.local_now(request) is first
    assert clock.local_today(request) == first.date()
    assert clock.local_now(RequestFactory().get("/")) == later  # another request: its own
