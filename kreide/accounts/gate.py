"""One gate for every way in: an account that must change its initial password (one
someone else chose, e.g. printed on a sign-in slip) opens nothing until its owner did.

Pages, the JSON API and tus uploads pass ActiveAccountMiddleware, WebDAV (Basic auth,
no session) asks in its view, the messenger's WebSocket when it connects. Each calls
`must_change_password_first` and refuses with `refusal_message`. A browser is sent to the
change form with the page it asked for as `next` (`change_password_url`), so a sign-in
into a tool (an OpenID Connect authorization request) continues after the change.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _


def must_change_password_first(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.must_change_password)


def refusal_message() -> str:
    return _("Please change your initial password in the browser first.")


def change_password_url(request: HttpRequest) -> str:
    """The change form, remembering the page asked for (the dashboard needs no reminder)."""
    url = reverse("accounts:password_change")
    wanted = request.get_full_path()
    return url if wanted == "/" else f"{url}?{urlencode({'next': wanted})}"
