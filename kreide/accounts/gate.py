"""One gate for every way in: an account that must change its initial password (one
someone else chose, e.g. printed on a sign-in slip) opens nothing until its owner did; a
former student (`former_student`) opens only the pages registered as open to them.

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


def former_student(user: Any) -> bool:
    """A graduate or leaver of a school-year rollover whose deactivated account still signs
    in, read-only, until the retention rules erase it (docs/school-year.md): the pages the
    modules opened with `open_to_former_students`, nothing else, and no other way in (no
    WebDAV, API, mail, WebSocket or upstream sign-in)."""
    return bool(
        getattr(user, "is_authenticated", False)
        and not user.is_active
        and user.left_school
        and user.school_id
    )


_OPEN_TO_FORMER_STUDENTS: set[str] = set()


def open_to_former_students(*view_names: str) -> None:
    """Pages (URL names with namespace) a former student's session may open; every module
    registers its own in AppConfig.ready(). Anything not registered is refused."""
    _OPEN_TO_FORMER_STUDENTS.update(view_names)


def open_to_former_student(view_name: str) -> bool:
    return view_name in _OPEN_TO_FORMER_STUDENTS


def former_student_message() -> str:
    return _(
        "Your account was closed when you left the school. You can still read your archive, "
        "download a copy of your data and change your password."
    )


def must_change_password_first(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.must_change_password)


def refusal_message() -> str:
    return _("Please change your initial password in the browser first.")


def change_password_url(request: HttpRequest) -> str:
    """The change form, remembering the page asked for (the dashboard needs no reminder)."""
    url = reverse("accounts:password_change")
    wanted = request.get_full_path()
    return url if wanted == "/" else f"{url}?{urlencode({'next': wanted})}"
