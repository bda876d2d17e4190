"""Dashboard section: what others shared with me lately (two queries, whatever the count)."""

from __future__ import annotations

from django.db.models import Q
from django.http import HttpRequest

from kreide.files.models import Share
from kreide.schools.models import Membership


def shared_with_me(request: HttpRequest) -> dict | None:
    school_id = request.user.school_id
    if not school_id:
        return None
    groups = Membership.objects.for_school(school_id).filter(user=request.user).values("group_id")
    shares = list(
        Share.objects.for_school(school_id)
        .filter(Q(user=request.user) | Q(group_id__in=groups), node__deleted_at=None)
        .exclude(created_by=request.user)
        .select_related("node", "created_by")
        .order_by("-created_at")[:5]
    )
    return {"shares": shares}
