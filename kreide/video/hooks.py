"""What the video module adds to every page: a nav item, a dashboard section, a banner."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from django.utils.translation import gettext as _

from kreide.core import clock
from kreide.core.banners import Banner
from kreide.dashboard.registry import Probe
from kreide.schedule.services import start_time_today
from kreide.schools import access
from kreide.video import services
from kreide.video.models import VideoLesson


def nav_visible(request: HttpRequest) -> bool:
    return getattr(request.user, "school_id", None) is not None


def _day_start(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def dashboard_entries(request: HttpRequest) -> dict[str, list[str]]:
    """The cached lessons dashboard_section() reads."""
    user = request.user
    if user.school_id is None:
        return {}
    start = _day_start(clock.local_now(request))
    return services.day_fragments(user, access.request_group_ids(request), start)


def dashboard_probes(request: HttpRequest) -> dict[str, Probe]:
    """A student's own lessons (which they teach: hardly ever any) are asked for first."""
    user = request.user
    if user.school_id is None or not user.is_student:
        return {}
    name, query, args = services.own_day_query(user, _day_start(clock.local_now(request)))
    return {name: Probe(query, args, services.DAY_SECONDS)}


def dashboard_section(request: HttpRequest) -> dict | None:
    """Today's lessons of the user's classes (one still running from yesterday among them),
    at most 8: from the fragment cache."""
    user = request.user
    state = services.cached_state(request, keep=True)
    if user.school_id is None or state == "unconfigured":
        return None  # no video here: the banner says so once
    now = clock.local_now(request)
    start = _day_start(now)
    lessons = [
        lesson
        for lesson in services.lessons_of_day(user, access.request_group_ids(request), start)
        if lesson.ends_at >= now and lesson.status != VideoLesson.Status.ENDED
    ][:8]
    if not lessons:
        return None
    # The staggered start applies to those who join, not to the lesson's teacher.
    day_starts = (
        start_time_today(request)
        if any(lesson.teacher_id != user.pk for lesson in lessons)
        else None
    )
    return {
        "available": state != "down",
        "lessons": [
            {
                "lesson": lesson,
                "open": lesson.teacher_id == user.pk
                or services.join_opens_for(lesson, day_starts) <= now,
            }
            for lesson in lessons
        ],
    }


def dashboard_kept(context: dict) -> tuple:
    """Everything the video section shows (video/section.html): the same for a class's
    students at the same minute."""
    shown = []
    for row in context["lessons"]:
        lesson = row["lesson"]
        shown.append(
            (
                row["open"],
                lesson.pk,
                lesson.starts_at,
                lesson.title,
                lesson.group.name,
                lesson.join_opens_at,
            )
        )
    return context["available"], tuple(shown)


def video_banner(request: HttpRequest) -> list[Banner]:
    """From the cached health state only: never a network call or query per page. The
    video pages say it themselves, once."""
    if request.path.startswith("/video/"):
        return []
    state = services.cached_state(request)
    if state == "down":
        return [
            Banner(
                _(
                    "Video lessons are not available right now. Tasks, files and "
                    "messages work as usual."
                ),
                "warning",
            )
        ]
    if state == "unconfigured" and request.path == "/":
        return [Banner(_("Video lessons are not available here."), "info")]
    return []
