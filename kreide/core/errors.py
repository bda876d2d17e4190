"""Error pages in Kreide's layout and the user's language, each with a way back."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.views.decorators.csrf import requires_csrf_token


def _page(request: HttpRequest, status: int, heading: str, explanation: str) -> HttpResponse:
    return render(
        request,
        "core/error.html",
        {"heading": heading, "explanation": explanation},
        status=status,
    )


@requires_csrf_token
def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _page(
        request,
        400,
        _("This request could not be understood"),
        _("The address or the form sent was incomplete or damaged. Please go back and try again."),
    )


@requires_csrf_token
def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _page(
        request,
        403,
        _("Not allowed"),
        _(
            "Your account may not open this page. If you think it should, "
            "ask your school's administrators."
        ),
    )


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return _page(
        request,
        403,
        _("The form has expired"),
        _(
            "The page was open for a long time, or you signed in or out in another window in "
            "the meantime. Please go back, reload the page and send it again."
        ),
    )


@requires_csrf_token
def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    return _page(
        request,
        404,
        _("Page not found"),
        _(
            "This page does not exist, or it is not meant for your account. "
            "Perhaps the link is old or mistyped."
        ),
    )


def server_error(request: HttpRequest) -> HttpResponse:
    # No request context: whatever failed (the database, the cache) is not asked again.
    body = render_to_string(
        "core/error.html",
        {
            "heading": _("Something went wrong"),
            "explanation": _(
                "Kreide could not answer this request. The error has been logged. "
                "What you saved before is not lost; please try again in a moment."
            ),
        },
    )
    return HttpResponse(body, status=500)
