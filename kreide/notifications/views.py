from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from kreide.notifications import services
from kreide.schools.access import participates


@login_required
def index(request: HttpRequest) -> HttpResponse:
    if not participates(request.user):
        raise Http404
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
