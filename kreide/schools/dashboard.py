"""The schools module's dashboard sections: school news and the user's classes and groups."""

from django.http import HttpRequest
from django.utils import timezone

from kreide.schools.models import Announcement, Membership


def news(request: HttpRequest) -> dict:
    school = request.user.school
    if school is None:
        return None
    items = list(
        Announcement.objects.for_school(school)
        .filter(published_at__lte=timezone.now())
        .order_by("-published_at")[:5]
    )
    return {"announcements": items}


def my_groups(request: HttpRequest) -> dict:
    school = request.user.school
    if school is None:
        return None
    memberships = list(
        Membership.objects.for_school(school)
        .filter(user=request.user, group__is_active=True)
        .select_related("group")
        .order_by("group__grade", "group__name")
    )
    return {"memberships": memberships}
