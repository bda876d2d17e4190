from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kreide.schedule import services
from kreide.schedule.forms import StartWindowForm
from kreide.schedule.models import StartWindow
from kreide.schools.access import is_admin_of


def dashboard_section(request: HttpRequest) -> dict[str, Any] | None:
    """ "Your class starts at 8:00" today; the admin also gets the link to set the windows."""
    user = request.user
    starts_at = services.start_time_today(request)
    manage = is_admin_of(user, user.school)
    if starts_at is None and not manage:
        return None
    # Students are addressed with "du", staff with "Sie" (docs/development.md).
    return {"starts_at": starts_at, "manage": manage, "student": user.is_student}


@login_required
def manage(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not is_admin_of(user, user.school):
        raise PermissionDenied
    form = StartWindowForm(
        request.POST or None, school=user.school, initial={"day": timezone.localdate()}
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.add_window(
                user,
                data["day"],
                data["starts_at"],
                grade_from=data["grade_from"],
                grade_to=data["grade_to"],
                group=data["group"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("The start time has been saved."))
            return redirect("schedule:manage")
    windows = (
        StartWindow.objects.for_school(user.school)
        .filter(day__gte=timezone.localdate())
        .select_related("group")
    )
    return render(request, "schedule/manage.html", {"form": form, "windows": windows})


@require_POST
@login_required
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        services.delete_window(request.user, pk)
    except StartWindow.DoesNotExist:
        messages.error(request, _("This start time no longer exists."))
    else:
        messages.success(request, _("The start time has been removed."))
    return redirect("schedule:manage")


@require_POST
@login_required
def from_timetable(request: HttpRequest) -> HttpResponse:
    """Take the day's start times from the timetable (first lesson of each class)."""
    try:
        day = date.fromisoformat(request.POST.get("day", ""))
    except ValueError:
        messages.error(request, _("Choose the day."))
        return redirect("schedule:manage")
    count = services.windows_from_timetable(request.user, day)
    if count:
        messages.success(
            request,
            _("%(count)d classes start with their first lesson of the timetable.")
            % {"count": count},
        )
    else:
        messages.warning(request, _("The timetable has no lessons on this day."))
    return redirect("schedule:manage")
