from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Hashable
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kreide.accounts.models import User
from kreide.core import clock, fragments, pagecache
from kreide.core.admission import heavy
from kreide.core.kept import KeptMarkup, shown_in
from kreide.schools.access import MEMBER, is_admin_of, memberships_of, request_group_ids
from kreide.schools.models import Group, School
from kreide.timetable import calendars, importing, plans, services
from kreide.timetable.forms import CalendarSettingsForm, EventForm, HolidayFileForm
from kreide.timetable.models import Event, ImportKey, Room
from kreide.video import services as video

MAX_DAYS_AWAY = 3660  # about ten years either way; further is a typo or a probe


def _day(request: HttpRequest) -> date:
    """`?day=YYYY-MM-DD`, or today when missing, malformed or absurdly far away."""
    today = timezone.localdate()
    try:
        day = date.fromisoformat(request.GET.get("day", ""))
    except ValueError:
        return today
    return day if abs((day - today).days) <= MAX_DAYS_AWAY else today


def my_targets(request: HttpRequest) -> list[plans.Target]:
    """Whose timetable is mine: a teacher's own lessons; a student's classes and groups
    (worked out once per request: the dashboard's substitutions ask twice)."""
    user = request.user
    found = getattr(request, "_kreide_targets", None)
    if found is None or found[0] != user.pk:
        found = (user.pk, plans.targets_of(user, request_group_ids(request, MEMBER)))
        request._kreide_targets = found
    return found[1]


def _week(day: date) -> list[date]:
    monday = day - timedelta(days=day.weekday())
    return [monday + timedelta(days=offset) for offset in range(5)]


@login_required
def my_day(request: HttpRequest) -> HttpResponse:
    """The phone's first page: one day, with its changes, and the way to the next."""
    user = request.user
    requested = _day(request)
    targets = my_targets(request)
    browse = user.role in (User.Role.TEACHER, User.Role.SCHOOL_ADMIN)
    manage = is_admin_of(user, user.school_id)
    # A teacher starts a video lesson from a slot, where video exists at all.
    video_on = user.role != User.Role.STUDENT and video.cached_state() != "unconfigured"

    def content(_stand_ins: dict[str, str]) -> str:
        free = calendars.free_days(user.school_id)
        day = calendars.school_day_on_or_after(requested, free)
        previous = day - timedelta(days=1)
        while not calendars.is_school_day(previous, free) and previous > day - timedelta(days=60):
            previous -= timedelta(days=1)
        return render_to_string(
            "timetable/_my_day.html",
            {
                "days": plans.days_of(user.school_id, targets, [day]),
                "title": _("My timetable"),
                "previous": previous,
                "next": calendars.next_school_day(day, free),
                "free_day": free.get(requested),
                "week_url": "timetable:my_week",
                "browse": browse,
                "manage": manage,
                "video": video_on,
                "user": user,
            },
        )

    # The video links name the teacher: theirs is a page of their own.
    viewer = (tuple(targets), browse, manage, video_on, user.pk if video_on else None)
    return render(
        request,
        "timetable/day.html",
        {"title": _("My timetable"), "content": _kept(request, "day", requested, viewer, content)},
    )


@login_required
def my_week(request: HttpRequest) -> HttpResponse:
    week = _week(_day(request))
    days = plans.days_of(request.user.school_id, my_targets(request), week)
    return render(request, "timetable/week.html", _week_context(_("My week"), week, days, request))


def _week_context(title: str, week: list[date], days: list, request: HttpRequest) -> dict[str, Any]:
    return {
        "title": title,
        "days": days,
        "previous": week[0] - timedelta(days=7),
        "next": week[0] + timedelta(days=7),
        "path": request.path,
    }


@login_required
def target_week(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    """The week of any class, teacher or room of the school (students: their own classes)."""
    user = request.user
    school_id = user.school_id
    if school_id is None:
        raise Http404
    if kind == plans.GROUP:
        target = get_object_or_404(Group.objects.for_school(school_id), pk=pk)
        title = _("Class %(name)s") % {"name": target.name}
    elif kind == plans.TEACHER:
        target = get_object_or_404(
            User.objects.for_school(school_id).exclude(role=User.Role.STUDENT), pk=pk
        )
        title = str(target)
    else:
        target = get_object_or_404(Room.objects.for_school(school_id), pk=pk)
        title = _("Room %(name)s") % {"name": target.code}
    member = kind == plans.GROUP and any(
        m.group_id == pk and m.is_member for m in memberships_of(request)
    )
    if not services.can_view(user, kind, school_id, member):
        raise PermissionDenied
    week = _week(_day(request))
    days = plans.days_of(school_id, [(kind, pk)], week)
    return render(request, "timetable/week.html", _week_context(title, week, days, request))


@login_required
def browse(request: HttpRequest) -> HttpResponse:
    """Pick a class, teacher or room (teachers and admins)."""
    user = request.user
    if not services.can_view(user, plans.TEACHER, user.school_id):
        raise PermissionDenied
    school_id = user.school_id
    context = {
        "groups": Group.objects.for_school(school_id).filter(is_active=True).only("name"),
        "teachers": User.objects.for_school(school_id)
        .filter(role=User.Role.TEACHER, is_active=True)
        .only("first_name", "last_name", "username"),
        "rooms": Room.objects.for_school(school_id),
    }
    return render(request, "timetable/browse.html", context)


def next_two_school_days(school_id: int, today: date | None = None) -> list[date]:
    today = today or timezone.localdate()
    free = calendars.free_days(school_id, today.year)
    first = calendars.school_day_on_or_after(today, free)
    return [first, calendars.next_school_day(first, free)]


def _plan_days(school_id: int) -> list[tuple[date, list[dict]]]:
    days = next_two_school_days(school_id)
    return [(day, plans.school_substitutions(school_id, day)) for day in days]


@login_required
def school_plan(request: HttpRequest) -> HttpResponse:
    """The whole school's substitution plan for today and the next school day."""
    school_id = request.user.school_id
    if school_id is None:
        raise Http404

    def plan(_stand_ins: dict[str, str]) -> str:
        return render_to_string(
            "timetable/_plan.html", {"plan_days": _plan_days(school_id), "show_teachers": True}
        )

    return render(
        request, "timetable/school_plan.html", {"plan": _kept(request, "plan", None, (), plan)}
    )


# My day and the school's plan are the same for everybody who sees the same classes (or
# school) on the same day, and at 8:00 a whole school asks for them: each process keeps
# their markup for the versions of the scopes they are built from, which come with the
# page's other keys in one round trip (`page_keys`). Kept at most ten minutes beyond their
# versions, as names without a scope of their own (a teacher's) age in the fragments.
_KEPT = KeptMarkup((), limit=512)
_KEPT_SECONDS = 600


def _scopes(school_id: int) -> list[str]:
    return [
        services.timetable_scope(school_id),
        services.substitutions_scope(school_id),
        calendars.calendar_scope(school_id),  # which days are school days
    ]


def page_keys(request: HttpRequest) -> list[str]:
    """My day's and the school plan's keys for `pagecache`: the versions of their scopes."""
    match = getattr(request, "resolver_match", None)
    if match is None or match.func not in (my_day, school_plan):
        return []
    if not settings.FRAGMENT_CACHE_ENABLED or request.user.school_id is None:
        return []
    return [fragments.version_key(scope) for scope in _scopes(request.user.school_id)]


def _kept(
    request: HttpRequest,
    page: str,
    day: date | None,
    viewer: Hashable,
    render_markup: Callable[[dict[str, str]], str],
) -> SafeString:
    """The markup of `page`, kept under the versions it was built at (rendered anew when a
    version is not known yet: rendering sets it)."""
    school_id = request.user.school_id
    versions = (
        tuple(pagecache.take(request, fragments.version_key(scope)) for scope in _scopes(school_id))
        if settings.FRAGMENT_CACHE_ENABLED and school_id is not None
        else (None,)
    )
    if None in versions:
        return mark_safe(render_markup({}))  # noqa: S308 - a rendered template
    key = (
        page,
        school_id,
        versions,
        timezone.localdate(),
        day,
        viewer,
        *shown_in(),
        int(time.monotonic() // _KEPT_SECONDS),
    )
    return _KEPT.get(key, render_markup)


def screen(request: HttpRequest, token: str) -> HttpResponse:
    """The hallway monitor: no sign-in, a secret link; the same cached page for every
    viewer until the plan changes, so a hundred screens cost no query."""
    school_id = services.school_for_screen(token)
    if school_id is None:
        raise Http404
    today = timezone.localdate()

    def page() -> str:
        school = School.objects.get(pk=school_id)
        return render_to_string(
            "timetable/screen.html",
            {
                "school": school,
                "plan_days": _plan_days(school_id),
                "now": timezone.localtime(),
            },
        )

    html = fragments.cached(
        # The screen's browser picks the language: one cached page per language.
        f"timetable:screen:{school_id}:{today.isoformat()}:{translation.get_language()}",
        [
            services.substitutions_scope(school_id),
            calendars.calendar_scope(school_id),  # which days are school days
            services.screen_scope(school_id),
        ],
        page,
        timeout=600,
    )
    response = HttpResponse(html)
    response["Cache-Control"] = "public, max-age=30"
    response["X-Robots-Tag"] = "noindex"
    return response


@login_required
def manage(request: HttpRequest) -> HttpResponse:
    """School admins: bell times, double bookings, the info screen link, the import key."""
    user = request.user
    if not is_admin_of(user, user.school):
        raise PermissionDenied
    text = "\n".join(
        f"{number} {starts:%H:%M} {ends:%H:%M}"
        for number, (starts, ends) in plans.periods(user.school_id).items()
    )
    errors: list[str] = []
    new_key = ""
    if request.method == "POST" and "import_key" in request.POST:
        if request.POST["import_key"] == "revoke":
            services.revoke_import_key(user)
            messages.success(request, _("The import key no longer works."))
            return redirect("timetable:manage")
        # Shown once, on this answer only: Kreide keeps just its hash.
        new_key = services.renew_import_key(user)
    elif request.method == "POST":
        text = request.POST.get("bell_times", "")[:4000]
        try:
            services.set_bell_times(user, services.parse_bell_times(text))
        except ValidationError as error:
            errors = error.messages
        else:
            messages.success(request, _("The bell times have been saved."))
            return redirect("timetable:manage")
    link = services.screen_link(user.school)
    return render(
        request,
        "timetable/manage.html",
        {
            "bell_times": text,
            "errors": errors,
            "conflicts": services.conflicts(user.school),
            "screen_url": request.build_absolute_uri(
                reverse("timetable:screen", args=[link.token])
            ),
            "new_key": new_key,
            "has_key": ImportKey.objects.for_school(user.school).exists(),
            "push_url": request.build_absolute_uri(reverse("timetable_push")),
        },
    )


@require_POST
@login_required
def renew_screen(request: HttpRequest) -> HttpResponse:
    services.renew_screen_link(request.user)
    messages.success(request, _("The info screen has a new address; the old one no longer works."))
    return redirect("timetable:manage")


def dashboard_scopes(request: HttpRequest) -> list[str]:
    """What the substitutions section reads besides the free days: the school's changes
    (their entries depend on the school days the free days decide)."""
    school_id = request.user.school_id
    return [] if school_id is None else [services.substitutions_scope(school_id)]


def dashboard_entries(request: HttpRequest) -> dict[str, list[str]]:
    """The free days the substitutions section reads first, and the changes of the next
    two weekdays: the school days the free days decide unless one of them is free (then
    the section reads the right days' changes itself, one round trip more)."""
    school_id = request.user.school_id
    if school_id is None:
        return {}
    today = clock.local_today(request)
    first = calendars.school_day_on_or_after(today, {})
    days = [first, calendars.next_school_day(first, {})]
    return {
        **calendars.free_days_fragment(school_id, today.year),
        **plans.substitutions_fragments(school_id, my_targets(request), days),
    }


def dashboard_section(request: HttpRequest) -> dict[str, Any] | None:
    """My changes today and on the next school day."""
    user = request.user
    if user.school_id is None:
        return None
    targets = my_targets(request)
    if not targets:
        return None
    days = next_two_school_days(user.school_id, clock.local_today(request))
    found = plans.substitutions(user.school_id, targets, days)
    changes = []
    for day in days:
        rows: list[dict] = []
        for target in targets:
            rows.extend(row for row in found[(target, day)] if row not in rows)
        changes.append((day, [plans.change_entry(row) for row in rows]))
    return {"days": changes}


def dashboard_kept(context: dict[str, Any]) -> tuple:
    """Everything the substitutions section shows: its days and their changes."""
    return tuple(
        (day, tuple(tuple(vars(entry).values()) for entry in entries))
        for day, entries in context["days"]
    )


# -------------------------------------------------------------------------------- calendar

AGENDA_DAYS = 42


@login_required
def calendar(request: HttpRequest) -> HttpResponse:
    """My dates for the next six weeks (or from `?day=`), with school-free days."""
    user = request.user
    if user.school_id is None:
        raise Http404
    start = _day(request)
    end = start + timedelta(days=AGENDA_DAYS - 1)
    groups = request_group_ids(request)
    items = calendars.events_for(user, groups, start, end)
    free = calendars.free_days(user.school_id)
    by_day: dict[date, list] = {}
    for item in items:
        by_day.setdefault(max(item.first_day, start), []).append(item)
    for day, name in free.items():
        if start <= day <= end and day.isoweekday() <= 5:
            by_day.setdefault(day, []).insert(0, name)
    token = calendars.feed_token(user)
    writable = set(calendars.writable_groups(user).values_list("pk", flat=True))
    return render(
        request,
        "timetable/calendar.html",
        {
            "agenda": sorted(by_day.items()),
            "previous": start - timedelta(days=AGENDA_DAYS),
            "next": end + timedelta(days=1),
            "feed_url": request.build_absolute_uri(reverse("timetable:feed", args=[token.token]))
            if token
            else "",
            "editable": {item.pk for item in items if calendars.can_edit(user, item, writable)},
        },
    )


@login_required
def new_event(request: HttpRequest) -> HttpResponse:
    user = request.user
    if user.school_id is None:
        raise Http404
    form = EventForm(request.POST or None, user=user, initial={"day": _day(request)})
    warnings: list[str] = []
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        starts_at, ends_at, all_day = form.times()
        try:
            calendars.create_event(
                user,
                title=data["title"],
                starts_at=starts_at,
                ends_at=ends_at,
                all_day=all_day,
                audience=data["audience"],
                group=data.get("group"),
                kind=Event.Kind.TEST if data.get("is_test") else Event.Kind.EVENT,
                location=data["location"],
                description=data["description"],
                confirmed=data["confirm"],
            )
        except calendars.TestLimitExceeded as error:
            warnings = error.messages
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("The date has been saved."))
            return redirect(f"{reverse('timetable:calendar')}?day={data['day']:%Y-%m-%d}")
    return render(request, "timetable/event_form.html", {"form": form, "warnings": warnings})


@require_POST
@login_required
def delete_event(request: HttpRequest, pk: int) -> HttpResponse:
    event = get_object_or_404(Event.objects.for_school(request.user.school_id), pk=pk)
    if event.audience == Event.Audience.PERSONAL and event.owner_id != request.user.pk:
        raise Http404  # someone else's personal date does not exist for others
    calendars.delete_event(request.user, event)
    messages.success(request, _("The date has been removed."))
    return redirect("timetable:calendar")


@require_POST
@login_required
def subscription(request: HttpRequest) -> HttpResponse:
    """Create or renew (`renew`) or revoke (`revoke`) my calendar subscription address."""
    if request.user.school_id is None:
        raise Http404
    if request.POST.get("action") == "revoke":
        calendars.revoke_feed(request.user)
        messages.success(request, _("The subscription address no longer works."))
    else:
        calendars.renew_feed(request.user)
        messages.success(request, _("Your new subscription address is below."))
    return redirect(f"{reverse('timetable:calendar')}#subscription")


def feed(request: HttpRequest, token: str) -> HttpResponse:
    """The iCal subscription (no sign-in: calendar apps cannot; the secret is the key)."""
    user = calendars.user_for_feed(token)
    if user is None:
        raise Http404
    response = HttpResponse(calendars.build_feed(user), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="kreide.ics"'
    response["Cache-Control"] = "private, max-age=300"
    return response


@login_required
def calendar_settings(request: HttpRequest) -> HttpResponse:
    """School admins: the class test limits, the state, the school holidays."""
    user = request.user
    if not is_admin_of(user, user.school):
        raise PermissionDenied
    rules = calendars.settings_for(user.school_id)
    settings_form = CalendarSettingsForm(
        request.POST if "save_settings" in request.POST else None,
        initial={
            "tests_per_day": rules.tests_per_day,
            "tests_per_week": rules.tests_per_week,
            "state": rules.state,
        },
    )
    holiday_form = HolidayFileForm(
        request.POST if "import_holidays" in request.POST else None,
        request.FILES if "import_holidays" in request.POST else None,
    )
    if settings_form.is_bound and settings_form.is_valid():
        calendars.save_settings(user, **settings_form.cleaned_data)
        messages.success(request, _("The calendar settings have been saved."))
        return redirect("timetable:calendar_settings")
    if holiday_form.is_bound and holiday_form.is_valid():
        upload = holiday_form.cleaned_data["file"]
        try:
            added, updated = calendars.import_holidays(
                user, user.school, upload.read(calendars.MAX_ICS_BYTES + 1)
            )
        except ValidationError as error:
            holiday_form.add_error("file", error)
        else:
            messages.success(
                request,
                _("%(added)d school holidays added, %(updated)d updated.")
                % {"added": added, "updated": updated},
            )
            return redirect("timetable:calendar_settings")
    return render(
        request,
        "timetable/calendar_settings.html",
        {"settings_form": settings_form, "holiday_form": holiday_form},
    )


DATES_AHEAD = timedelta(days=13)  # the dashboard's dates: two weeks from today


def dates_section(request: HttpRequest) -> dict[str, Any] | None:
    """The dashboard's "Dates": the next 14 days, class tests first to catch the eye."""
    user = request.user
    if user.school_id is None:
        return None
    today = clock.local_today(request)
    groups = request_group_ids(request)
    items = calendars.events_for(user, groups, today, today + DATES_AHEAD)
    return {"items": items[:8], "more": len(items) > 8}


def dates_kept(context: dict[str, Any]) -> tuple:
    """Everything the dates section shows (its items are plain frozen values)."""
    return tuple(context["items"]), context["more"]


def dates_entries(request: HttpRequest) -> dict[str, list[str]]:
    """The cached dates dates_section() reads."""
    if request.user.school_id is None:
        return {}
    today = clock.local_today(request)
    return calendars.event_fragments(request.user, today, today + DATES_AHEAD)


# --------------------------------------------------------------------------- office upload

PREVIEW_SECONDS = 15 * 60


def _preview_key(user: User, key: str) -> str:
    return f"timetable:upload:{user.pk}:{key}"


@heavy  # a whole school's import: admitted last and few at once under load
@login_required
def upload(request: HttpRequest) -> HttpResponse:
    """The school office's import: upload the export, see what would change, apply it.

    The uploaded files wait in the cache (15 minutes, for this admin only) between the
    preview and "apply", so nothing is applied that the admin has not seen — unless they
    ticked "apply at once"."""
    user = request.user
    if not is_admin_of(user, user.school):
        raise PermissionDenied
    errors: list[str] = []
    report = preview = None
    if request.method == "POST":
        pending = request.POST.get("pending", "")
        if pending:
            stored = cache.get(_preview_key(user, pending))
            if stored is None:
                errors.append(_("The preview has expired. Please upload the files again."))
            else:
                files, format = stored
        else:
            uploads = request.FILES.getlist("files")
            format = request.POST.get("format")
            format = format if format in ("untis", "csv") else "untis"
            problem = importing.upload_problem(uploads)
            if problem:
                errors.append(problem)
            else:
                files = {upload.name: upload.read() for upload in uploads}
        if not errors:
            apply = bool(pending) or request.POST.get("apply") == "on"
            try:
                report = services.import_timetable(
                    user.school, importing.parse(files, format), apply=apply, actor=user
                )
            except importing.TimetableImportError as error:
                errors.extend(str(problem) for problem in error.problems)
            else:
                if pending:
                    cache.delete(_preview_key(user, pending))
                if not apply and report.changed:
                    preview = secrets.token_urlsafe(16)
                    cache.set(_preview_key(user, preview), (files, format), PREVIEW_SECONDS)
    return render(
        request,
        "timetable/upload.html",
        {"errors": errors, "report": report, "preview": preview},
    )
