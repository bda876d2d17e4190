from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kreide.accounts.models import User
from kreide.core import fragments
from kreide.schools.access import is_admin_of, memberships_of
from kreide.schools.models import Group, School
from kreide.timetable import plans, services
from kreide.timetable.models import Room

DAYS_AHEAD = 2  # today and the next school day


def _day(request: HttpRequest) -> date:
    try:
        return date.fromisoformat(request.GET.get("day", ""))
    except ValueError:
        return timezone.localdate()


def my_targets(request: HttpRequest) -> list[plans.Target]:
    """Whose timetable is mine: a teacher's own lessons; a student's classes and groups."""
    user = request.user
    if user.role in (User.Role.TEACHER, User.Role.SCHOOL_ADMIN):
        return [(plans.TEACHER, user.pk)]
    return [(plans.GROUP, m.group_id) for m in memberships_of(request) if m.is_member]


def _week(day: date) -> list[date]:
    monday = day - timedelta(days=day.weekday())
    return [monday + timedelta(days=offset) for offset in range(5)]


@login_required
def my_day(request: HttpRequest) -> HttpResponse:
    """The phone's first page: one day, with its changes, and the way to the next."""
    user = request.user
    day = plans.school_day_on_or_after(_day(request))
    days = plans.days_of(user.school_id, my_targets(request), [day])
    previous = day - timedelta(days=1)
    while previous.isoweekday() > 5:
        previous -= timedelta(days=1)
    return render(
        request,
        "timetable/day.html",
        {
            "days": days,
            "title": _("My timetable"),
            "previous": previous,
            "next": plans.next_school_day(day),
            "week_url": "timetable:my_week",
            "browse": user.role in (User.Role.TEACHER, User.Role.SCHOOL_ADMIN),
        },
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


def _plan_days(school_id: int, today: date) -> list[tuple[date, list[dict]]]:
    first = plans.school_day_on_or_after(today)
    days = [first, plans.next_school_day(first)]
    return [(day, plans.school_substitutions(school_id, day)) for day in days]


@login_required
def school_plan(request: HttpRequest) -> HttpResponse:
    """The whole school's substitution plan for today and the next school day."""
    school_id = request.user.school_id
    if school_id is None:
        raise Http404
    return render(
        request,
        "timetable/school_plan.html",
        {"plan_days": _plan_days(school_id, timezone.localdate()), "show_teachers": True},
    )


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
                "plan_days": _plan_days(school_id, today),
                "now": timezone.localtime(),
            },
        )

    html = fragments.cached(
        f"timetable:screen:{school_id}:{today.isoformat()}",
        [services.substitutions_scope(school_id), f"school:{school_id}:screen"],
        page,
        timeout=600,
    )
    response = HttpResponse(html)
    response["Cache-Control"] = "public, max-age=30"
    response["X-Robots-Tag"] = "noindex"
    return response


@login_required
def manage(request: HttpRequest) -> HttpResponse:
    """School admins: bell times, double bookings, the info screen link."""
    user = request.user
    if not is_admin_of(user, user.school):
        raise PermissionDenied
    text = "\n".join(
        f"{number} {starts:%H:%M} {ends:%H:%M}"
        for number, (starts, ends) in plans.periods(user.school_id).items()
    )
    errors: list[str] = []
    if request.method == "POST":
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
        },
    )


@require_POST
@login_required
def renew_screen(request: HttpRequest) -> HttpResponse:
    services.renew_screen_link(request.user)
    messages.success(request, _("The info screen has a new address; the old one no longer works."))
    return redirect("timetable:manage")


def dashboard_section(request: HttpRequest) -> dict[str, Any] | None:
    """My changes today and on the next school day."""
    user = request.user
    if user.school_id is None:
        return None
    targets = my_targets(request)
    if not targets:
        return None
    first = plans.school_day_on_or_after(timezone.localdate())
    days = [first, plans.next_school_day(first)]
    found = plans.substitutions(user.school_id, targets, days)
    changes = []
    for day in days:
        rows: list[dict] = []
        for target in targets:
            rows.extend(row for row in found[(target, day)] if row not in rows)
        changes.append((day, [plans.change_entry(row) for row in rows]))
    return {"days": changes}
