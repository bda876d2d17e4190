"""Accounts that must change their initial password do that before anything else; former
students (accounts.gate.former_student) open only the pages registered for them."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.functional import LazyObject, empty

from kreide.accounts.gate import (
    change_password_url,
    former_student,
    former_student_message,
    must_change_password_first,
    open_to_former_student,
    refusal_message,
)
from kreide.core.errors import Refusal, refusal_response

_ALWAYS_ALLOWED = ("/static/", "/i18n/", "/healthz", "/readyz", "/metrics", "/status")


def _is_page_visit(request: HttpRequest) -> bool:
    """A browser navigating to a page (sent on to the form), not a script or a client."""
    return (
        request.method in ("GET", "HEAD")
        and not request.headers.get("HX-Request")
        and "text/html" in request.headers.get("Accept", "text/html")
        and not request.path.startswith(("/api/", "/uploads/"))
    )


def _resolved(user: object) -> object:
    """The user behind Django's and django-otp's lazy wrappers (both resolved by now)."""
    while isinstance(user, LazyObject):
        if user._wrapped is empty:
            user._setup()
        user = user._wrapped
    return user


class ActiveAccountMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if hasattr(request, "user"):
            # The gate below reads the user anyway. Every later read (the views, the
            # navigation, each `user.…` in a template) then costs one attribute lookup
            # instead of a trip through two lazy wrappers: ~800 Python calls per page.
            request.user = _resolved(request.user)
        if must_change_password_first(getattr(request, "user", None)):
            allowed = (reverse("accounts:password_change"), reverse("accounts:logout"))
            if not request.path.startswith(allowed + _ALWAYS_ALLOWED):
                if _is_page_visit(request):
                    return redirect(change_password_url(request))
                if request.path.startswith("/api/"):
                    return JsonResponse({"detail": refusal_message()}, status=403)
                return HttpResponse(
                    refusal_message(), status=403, content_type="text/plain; charset=utf-8"
                )
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view, args, kwargs) -> HttpResponse | None:
        """A former student's session: deny by default, so a page added later stays closed
        to them until its module opens it."""
        if not former_student(getattr(request, "user", None)):
            return None
        name = request.resolver_match.view_name
        if open_to_former_student(name):
            return None
        if name == "dashboard:home":  # where signing in and the brand link lead
            return redirect("schoolyear:archives")
        return refusal_response(request, Refusal(former_student_message(), status=403))
