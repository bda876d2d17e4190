"""Staggered start windows: which class starts when on a given day.

`start_time_for(user, day)` is what other modules ask (the dashboard, the video module
before opening a lesson's room). A window for a class wins over one for its grade; a user
in several classes (a teacher) gets the earliest start. The school's windows of a day are
cached and renewed whenever a window is written (declared in apps.py).
"""

from __future__ import annotations

from datetime import date, time

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _

from kreide.accounts.models import User
from kreide.core import clock, fragments
from kreide.schedule.models import StartWindow
from kreide.schools import access
from kreide.schools.access import is_admin_of
from kreide.schools.models import Group


def _scope(school_id: int) -> str:
    return f"school:{school_id}:schedule"


def schedule_fragments(user: User, day: date) -> dict[str, list[str]]:
    """What `start_time_for(user, day)` reads (the dashboard fetches it up front)."""
    return _windows_fragment(user.school_id, day) if user.school_id is not None else {}


def _windows_fragment(school_id: int, day: date) -> dict[str, list[str]]:
    return {f"schedule:{day.isoformat()}": [_scope(school_id)]}


def window_scopes(window: StartWindow) -> list[str]:
    """A start window feeds its school's cached windows (declared in apps.py)."""
    return [_scope(window.school_id)]


def windows_on(school_id: int, day: date) -> list[StartWindow]:
    def load() -> list[StartWindow]:
        return list(
            StartWindow.objects.for_school(school_id).filter(day=day).select_related("group")
        )

    [(name, scopes)] = _windows_fragment(school_id, day).items()
    return fragments.cached(name, scopes, load, timeout=3600)


def start_time_for(
    user: User, day: date, classes: list[tuple[int, int | None]] | None = None
) -> time | None:
    """When the user's day starts on `day`, or None when no window applies.

    `classes`: the user's active classes as (group id, grade), when the caller has them
    already (kreide.schools.access.request_classes); else one query finds them.
    """
    if not user.is_authenticated or user.school_id is None:
        return None
    windows = windows_on(user.school_id, day)
    if not windows:
        return None
    if classes is None:
        classes = access.classes(user)
    starts = []
    for group_id, grade in classes:
        own = [w.starts_at for w in windows if w.group_id == group_id]
        by_grade = [
            w.starts_at
            for w in windows
            if w.group_id is None and grade is not None and w.grade_from <= grade <= w.grade_to
        ]
        if own or by_grade:
            starts.append(min(own or by_grade))
    return min(starts) if starts else None


_ATTRIBUTE = "_kreide_start_time"


def start_time_today(request: HttpRequest) -> time | None:
    """`start_time_for` the signed-in user today, once per request (the dashboard's start
    and video sections both ask)."""
    found = getattr(request, _ATTRIBUTE, _ATTRIBUTE)
    if found is _ATTRIBUTE:
        found = start_time_for(
            request.user, clock.local_today(request), access.request_classes(request)
        )
        setattr(request, _ATTRIBUTE, found)
    return found


def add_window(
    actor: User,
    day: date,
    starts_at: time,
    *,
    grade_from: int | None = None,
    grade_to: int | None = None,
    group: Group | None = None,
) -> StartWindow:
    if not is_admin_of(actor, actor.school):
        raise PermissionDenied
    if group is not None:
        if group.school_id != actor.school_id:
            raise PermissionDenied
        grade_from = grade_to = None
    elif grade_from is None or grade_to is None:
        raise ValidationError(_("Choose a class or a range of grades."))
    elif grade_from > grade_to:
        raise ValidationError(_("The first grade must not be above the last."))
    window = StartWindow.objects.for_school(actor.school).create(
        day=day,
        starts_at=starts_at,
        grade_from=grade_from,
        grade_to=grade_to,
        group=group,
    )
    return window


def delete_window(actor: User, window_id: int) -> None:
    if not is_admin_of(actor, actor.school):
        raise PermissionDenied
    StartWindow.objects.for_school(actor.school).get(pk=window_id).delete()


def windows_from_timetable(actor: User, day: date) -> int:
    """Each class starts `day` with its first lesson in the timetable (cancelled periods
    left out), instead of start times entered by hand: one window per class, replacing
    the classes' windows of that day (grade windows stay, a class window wins anyway).
    Returns the number of classes."""
    from kreide.timetable.plans import first_lessons

    if not is_admin_of(actor, actor.school):
        raise PermissionDenied
    starts = first_lessons(actor.school_id, day)
    with transaction.atomic():
        StartWindow.objects.for_school(actor.school).filter(day=day, group__isnull=False).delete()
        created = StartWindow.unscoped.bulk_create(
            StartWindow(school=actor.school, day=day, starts_at=starts_at, group_id=group_id)
            for group_id, starts_at in starts.items()
        )
        fragments.rows_changed(created)  # bulk_create sends no signals
    return len(starts)
