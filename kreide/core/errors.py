"""Refusals a user should read, and error pages in Kreide's layout and the user's language.

Every module's refusals (`FileError`, `MessengerError`, `SubmissionRefused`, `UploadRefused`,
the video module's, the CSV imports') derive from `Refusal`: a message in the user's
language, the HTTP status it means and a short `code` for scripts. `refusal_response()`
is the one place that turns one into a response — JSON for the API and scripts, the error
page for a browser; the `RefusalMiddleware` does so for every refusal a view lets through,
and for the exceptions an app declares to be refusals under another name (`refuse_as()`: a
network store's ENOTCONN is "files cannot be reached right now", not a 500).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.views.decorators.csrf import requires_csrf_token


class Refusal(Exception):
    """Something the user asked for that Kreide will not do; `message` says why."""

    status: int = 400
    code: str = "refused"
    retry_after: int | None = None

    def __init__(
        self,
        message: Any,
        *,
        status: int | None = None,
        code: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(str(message))
        self.message = message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        if retry_after is not None:
            self.retry_after = retry_after


def wants_json(request: HttpRequest) -> bool:
    accept = request.headers.get("Accept", "")
    return request.path.startswith("/api/") or (
        "application/json" in accept and "text/html" not in accept
    )


def refusal_response(
    request: HttpRequest, refusal: Refusal, json: bool | None = None
) -> HttpResponse:
    """The response for a refusal: JSON (`error`, `message`, `detail`) or the error page."""
    message = str(refusal.message)
    if json if json is not None else wants_json(request):
        response: HttpResponse = JsonResponse(
            {"error": refusal.code, "message": message, "detail": message},
            status=refusal.status,
        )
    else:
        response = _page(request, refusal.status, _("That is not possible"), message)
    if refusal.retry_after is not None:
        response["Retry-After"] = str(refusal.retry_after)
    return response


_TRANSLATORS: list[Callable[[Exception], Refusal | None]] = []


def refuse_as(translator: Callable[[Exception], Refusal | None]) -> None:
    """Register `translator(exception)`: the refusal an app's exception means, or None."""
    _TRANSLATORS.append(translator)


class RefusalMiddleware:
    """A refusal no view handled becomes `refusal_response()` instead of a 500."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, Refusal):
            return refusal_response(request, exception)
        for translate in _TRANSLATORS:
            refusal = translate(exception)
            if refusal is not None:
                return refusal_response(request, refusal)
        return None


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
