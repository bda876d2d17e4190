"""The parents module's navigation and dashboard: a parent's children at a glance."""

from __future__ import annotations

from django.http import HttpRequest

from kreide.schools import access


def is_parent(request: HttpRequest) -> bool:
    return getattr(request.user, "is_parent", False) and access.participates(request.user)


def reads_absences(request: HttpRequest) -> bool:
    user = request.user
    return access.participates(user) and (user.is_teacher or user.is_school_admin)


def children(request: HttpRequest) -> dict | None:
    if not is_parent(request):
        return None
    return {"children": list(access.children_of(request.user))}
