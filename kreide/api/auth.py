"""How every JSON endpoint under /api/v1/ authenticates and answers errors.

A request carries either the browser session (writes need the CSRF token in
`X-CSRFToken`) or a personal API token (`Authorization: Bearer kreide_...`; read-only
tokens may only read, and no CSRF token is needed). Errors are JSON with `detail`:
401 signed out or a token that is not valid, 404 for what the user may not see, 403 with a
reason for what they may see but not do, and every `Refusal` with its own status.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from kreide.api import services
from kreide.api.models import ApiToken
from kreide.core.errors import Refusal, refusal_response
from kreide.schools import access

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class ApiError(Exception):
    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


def _csrf_failed(request: HttpRequest) -> bool:
    """Django's CSRF check, run here because token requests must skip it."""
    return (
        CsrfViewMiddleware(lambda r: HttpResponse()).process_view(request, lambda r: None, (), {})
        is not None
    )


def authenticate(request: HttpRequest, signed_out: str | None = None) -> ApiError | None:
    """Sets request.user from the token, if any; the refusal when the request may not go on.

    Also the tus upload server's sign-in (kreide.storage.tus), so a script uploads with its
    token under the same purpose checks and limits as a browser; `signed_out` is the
    message for a browser whose session ended."""
    kind, _space, secret = request.headers.get("Authorization", "").partition(" ")
    if kind.lower() == "bearer":
        token = services.authenticate(secret.strip())
        if token is None:
            return ApiError(401, _("This API token is not valid (any more)."))
        if request.method not in SAFE_METHODS and token.scope != ApiToken.Scope.WRITE:
            return ApiError(403, _("This API token may only read."))
        request.user = token.user
        return None
    if not access.participates(request.user):
        return ApiError(401, signed_out or _("Please sign in."))
    if request.method not in SAFE_METHODS and _csrf_failed(request):
        return ApiError(403, _("The CSRF token is missing or wrong."))
    return None


def api(*methods: str) -> Callable:
    """A JSON endpoint of the API for `methods`, authenticated as the module describes."""

    def decorate(view: Callable) -> Callable:
        @csrf_exempt
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.method not in methods:
                return JsonResponse(
                    {"detail": _("Method not allowed.")},
                    status=405,
                    headers={"Allow": ", ".join(methods)},
                )
            refused = authenticate(request)
            if refused is not None:
                return JsonResponse({"detail": refused.detail}, status=refused.status)
            try:
                return view(request, *args, **kwargs)
            except ApiError as error:
                return JsonResponse({"detail": error.detail}, status=error.status)
            except Refusal as refusal:
                return refusal_response(request, refusal, json=True)
            except PermissionDenied:
                return JsonResponse({"detail": _("Not found.")}, status=404)

        return wrapped

    return decorate
