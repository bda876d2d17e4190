from __future__ import annotations

from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from kreide.core import jsonbody
from kreide.core.errors import refusal_response
from kreide.notifications import digest, services, settings_services, vapid
from kreide.notifications.forms import PreferencesForm, QuietHoursForm
from kreide.schools.access import is_admin_of, participates

SERVICE_WORKER = Path(__file__).parent / "static" / "notifications" / "js" / "sw.js"


def _participant(request: HttpRequest) -> None:
    if not participates(request.user):
        raise Http404


@login_required
def index(request: HttpRequest) -> HttpResponse:
    _participant(request)
    return render(
        request, "notifications/list.html", {"notifications": services.latest(request.user)}
    )


@login_required
@require_POST
def open_one(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark one read and go where it points."""
    found = services.mark_read(request.user, pk)
    if found is None:
        raise Http404
    if found.url and url_has_allowed_host_and_scheme(found.url, allowed_hosts=None):
        return redirect(found.url)
    return redirect("notifications:index")


@login_required
@require_POST
def read_all(request: HttpRequest) -> HttpResponse:
    services.mark_read(request.user)
    return redirect("notifications:index")


@never_cache
@require_GET
def count(request: HttpRequest) -> JsonResponse:
    """The unread count for pages without a live connection (from the cache, no query)."""
    if not request.user.is_authenticated:
        return JsonResponse({"error": "not_signed_in"}, status=401)
    return JsonResponse({"count": services.unread_count(request.user)})


@login_required
def settings_page(request: HttpRequest) -> HttpResponse:
    _participant(request)
    user = request.user
    admin = is_admin_of(user, user.school_id)
    parent = user.role == user.Role.PARENT
    form = PreferencesForm(
        instance=settings_services.preferences_of(user), prefix="me", parent=parent
    )
    quiet_form = (
        QuietHoursForm(instance=settings_services.quiet_hours_of(user.school_id), prefix="quiet")
        if admin
        else None
    )
    if request.method == "POST":
        if "quiet" in request.POST and admin:
            quiet_form = QuietHoursForm(request.POST, instance=quiet_form.instance, prefix="quiet")
            if quiet_form.is_valid():
                settings_services.save_quiet_hours(user, **quiet_form.cleaned_data)
                messages.success(request, _("The school's quiet hours are saved."))
                return redirect("notifications:settings")
        else:
            form = PreferencesForm(request.POST, instance=form.instance, prefix="me", parent=parent)
            if form.is_valid():
                settings_services.save_preferences(user, **form.settings())
                messages.success(request, _("Your notification settings are saved."))
                return redirect("notifications:settings")
    if not digest.available():
        form.fields["digest"].disabled = True
        form.fields["digest"].help_text = _("E-mail is not set up at this school.")
    return render(
        request,
        "notifications/settings.html",
        {
            "form": form,
            "quiet_form": quiet_form,
            "quiet": settings_services.quiet_hours_of(user.school_id),
            "vapid_key": vapid.public_key(),
            "subscriptions": settings_services.subscriptions_of(user),
        },
    )


def _json(request: HttpRequest) -> dict:
    try:
        return jsonbody.request_object(request)
    except jsonbody.JSONBodyError:
        raise settings_services.SubscriptionRefused(
            _("The browser's subscription could not be read.")
        ) from None


@login_required
@require_POST
def push_subscribe(request: HttpRequest) -> JsonResponse:
    _participant(request)
    try:
        found = settings_services.subscribe(
            request.user,
            _json(request).get("subscription"),
            request.headers.get("User-Agent", ""),
        )
    except settings_services.SubscriptionRefused as refusal:  # JSON for the settings script
        return refusal_response(request, refusal, json=True)
    return JsonResponse({"subscribed": True, "id": found.pk})


@login_required
@require_POST
def push_unsubscribe(request: HttpRequest) -> JsonResponse:
    _participant(request)
    try:
        removed = settings_services.unsubscribe(request.user, _json(request).get("endpoint"))
    except settings_services.SubscriptionRefused as refusal:
        return refusal_response(request, refusal, json=True)
    return JsonResponse({"removed": removed})


@require_GET
def service_worker(request: HttpRequest) -> FileResponse:
    """The service worker from Kreide's own origin, allowed to control every page."""
    response = FileResponse(SERVICE_WORKER.open("rb"), content_type="text/javascript")
    response["Service-Worker-Allowed"] = "/"
    response["Cache-Control"] = "no-cache"
    return response
