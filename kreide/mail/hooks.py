"""What mail adds to every page: a nav item with the unread count, a dashboard section."""

from __future__ import annotations

from django.http import HttpRequest

from kreide.mail import health, services, webmail


def nav_visible(request: HttpRequest) -> bool:
    return getattr(request.user, "school_id", None) is not None and health.configured()


def nav_count(request: HttpRequest) -> int:
    return webmail.unread_count(request.user, request)


def page_keys(request: HttpRequest) -> list[str]:
    """The unread count's key for `pagecache`: read with the page's other keys."""
    return [webmail.unread_key(request.user, request)] if nav_visible(request) else []


def dashboard_section(request: HttpRequest) -> dict | None:
    if request.user.school_id is None or not health.configured():
        return None
    return {"unread": webmail.unread_count(request.user, request, keep=True)}


def me_part(user) -> dict:
    """`GET /api/v1/me`: the account's mail address, where Kreide runs the school e-mail."""
    if user.school_id is None or not health.configured():
        return {}
    return {"mail": services.address_of(user)}
