"""Accounts that must change their initial password do that before anything else."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.functional import LazyObject, empty

from kreide.accounts.gate import change_password_url, must_change_password_first, refusal_message

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
