"""Accounts that must change their initial password do that before anything else; former
students (accounts.gate.former_student) open only the pages registered for them."""

from collections.abc import Callable
from functools import partial

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.middleware import AuthenticationMiddleware as DjangoAuthentication
from django.contrib.auth.middleware import auser
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages.storage.cookie import CookieStorage
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.common import CommonMiddleware
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import redirect
from django.urls import ResolverMatch, reverse
from django.utils.functional import LazyObject, SimpleLazyObject, empty
from django.utils.http import http_date

from kreide.accounts import keptuser
from kreide.accounts.gate import (
    change_password_url,
    former_student,
    former_student_message,
    must_change_password_first,
    open_to_former_student,
    refusal_message,
)
from kreide.accounts.views import kept_plain_page
from kreide.core.errors import Refusal, refusal_response
from kreide.core.middleware import LocaleMiddleware
from kreide.core.navigation import fixed_url

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


class AuthenticationMiddleware(DjangoAuthentication):
    """Django's, with the user loaded while its session is the one being read: the
    backend then hands out this process's copy of the user where the versions read with
    the session allow it (accounts.keptuser)."""

    def process_request(self, request: HttpRequest) -> None:
        if request.session.session_key is None:
            # No session cookie (a new browser, its sign-in POST): nobody, as get_user()
            # would find after loading an empty session through two lazy wrappers.
            request.user = AnonymousUser()
        else:
            request.user = SimpleLazyObject(lambda: _session_user(request))
        request.auser = partial(auser, request)


def _session_user(request: HttpRequest) -> object:
    if not hasattr(request, "_cached_user"):
        with keptuser.reading(request.session):
            request._cached_user = auth.get_user(request)
    return request._cached_user


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


# Made for each response: never_cache's expiry (a time) and the length (CommonMiddleware).
_OWN_HEADERS = frozenset(("Expires", "Content-Length"))


class PlainSignInPageMiddleware:
    """A new browser's visit of the sign-in page (each visit at 8:00: no query string, no
    session or messages cookie) answered before the session, common, CSRF, auth, OTP,
    account, messages, frame and CSP middleware and the URL resolver. Its page is kept
    (accounts.views.kept_plain_page) and so are the headers those added to it the first
    time it was rendered; the visit's own parts come from the same code as there: the
    language by LocaleMiddleware's, the host check by CommonMiddleware's, the token and
    its cookie by CsrfViewMiddleware's steps, the expiry as never_cache makes it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._locale = LocaleMiddleware(get_response)
        self._common = CommonMiddleware(get_response)
        self._csrf = CsrfViewMiddleware(get_response)
        # page key -> (the headers of its rendered response, the view's match for the log)
        self._kept: dict[tuple, tuple[dict[str, str], ResolverMatch]] = {}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not _new_browsers_plain_visit(request):
            return self.get_response(request)
        self._locale.process_request(request)
        if self._common.process_request(request) is not None:  # a redirect: as usual
            return self.get_response(request)
        self._csrf.process_request(request)
        request.user = AnonymousUser()  # what auth gives a browser without a session
        found = kept_plain_page(request)
        kept = self._kept.get(found[0]) if found else None
        if kept is None:
            response = self.get_response(request)
            page = getattr(response, "kept_page", None)
            if page is not None and response.status_code == 200:
                if len(self._kept) >= 64:  # as the kept pages: a full table starts over
                    self._kept.clear()
                headers = {
                    name: value for name, value in response.items() if name not in _OWN_HEADERS
                }
                self._kept[page] = (headers, request.resolver_match)
            return response
        headers, request.resolver_match = kept
        response = HttpResponse(found[1], headers=headers)
        # never_cache's Cache-Control is among the kept headers; its Expires is "now" as
        # Django's add_never_cache_headers makes it (which re-parses Cache-Control too).
        response["Expires"] = http_date()
        response["Content-Length"] = str(len(response.content))
        return self._csrf.process_response(request, response)


def _new_browsers_plain_visit(request: HttpRequest) -> bool:
    cookies = request.COOKIES
    return (
        request.method == "GET"
        and not request.META.get("QUERY_STRING")
        and settings.SESSION_COOKIE_NAME not in cookies
        and CookieStorage.cookie_name not in cookies
        and "HX-Request" not in request.headers
        and request.path == fixed_url("accounts:login")
    )
