"""The request's local time, read once per request.

`timezone.localtime()` costs ~19 Python calls (the current time zone through asgiref's
`Local`); the dashboard's sections each asked for it, or for `localdate()`, about ten
times a page. They share the first moment instead: microseconds apart before, one moment
now — what a page shows was never finer than a minute.
"""

from __future__ import annotations

from datetime import date, datetime

from django.http import HttpRequest
from django.utils import timezone

_ATTRIBUTE = "_kreide_local_now"


def local_now(request: HttpRequest) -> datetime:
    """`timezone.localtime()` as first asked in this request."""
    now = getattr(request, _ATTRIBUTE, None)
    if now is None:
        now = timezone.localtime()
        setattr(request, _ATTRIBUTE, now)
    return now


def local_today(request: HttpRequest) -> date:
    """`timezone.localdate()` as first asked in this request."""
    return local_now(request).date()
