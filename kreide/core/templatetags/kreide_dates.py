"""Dates formatted once per process for each value, time zone, format and language: the
task list formats every task's due date on every visit, the same dates for a whole class,
and Django's `|date` costs ~60 µs each (named format lookup, the format string walked)."""

from __future__ import annotations

import datetime

from django import template
from django.template.defaultfilters import date as django_date
from django.utils.translation import get_language

register = template.Library()

_formatted: dict[tuple, str] = {}
_LIMIT = 4096  # values kept; a full table starts over


@register.filter(expects_localtime=True, is_safe=False)
def kept_date(value: object, arg: str | None = None) -> str:
    """Django's `|date`, kept per wall time, time zone, format and language."""
    if not isinstance(value, datetime.datetime):
        return django_date(value, arg)
    # Aware datetimes at the same instant compare equal whatever their zone: the zone and
    # the wall time make the key.
    key = (value.replace(tzinfo=None), value.tzinfo, value.fold, arg, get_language())
    formatted = _formatted.get(key)
    if formatted is None:
        if len(_formatted) >= _LIMIT:
            _formatted.clear()
        formatted = _formatted[key] = django_date(value, arg)
    return formatted
