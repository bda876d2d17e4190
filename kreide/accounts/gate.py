"""One gate for every way in: an account that must change its initial password (one
someone else chose, e.g. printed on a sign-in slip) opens nothing until its owner did.

Pages, the JSON API and tus uploads pass ActiveAccountMiddleware, WebDAV (Basic auth,
no session) asks in its view, the messenger's WebSocket when it connects. Each calls
`must_change_password_first` and refuses with `refusal_message`.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _


def must_change_password_first(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.must_change_password)


def refusal_message() -> str:
    return _("Please change your initial password in the browser first.")
