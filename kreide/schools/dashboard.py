"""The schools module's dashboard sections: school news and the user's classes and groups."""

from django.http import HttpRequest
from django.utils import timezone

from kreide.core import fragments
from kreide.schools.access import memberships_of
from kreide.schools.models import Announcement


def news(request: HttpRequest) -> dict:
    school = request.user.school
    if school is None:
        return None

    def latest() -> list[Announcement]:
        return list(
            Announcement.objects.for_school(school)
            .filter(published_at__lte=timezone.now())
            .order_by("-published_at")[:5]
        )

    # Every student of the school loads the same news at 8:00: cached per school, renewed
    # when an announcement changes; a scheduled one appears within the minute.
    items = fragments.cached("news", [news_scope(school.pk)], latest, timeout=60)
    return {"announcements": items}


def news_scope(school_id: int) -> str:
    return f"school:{school_id}:news"


def my_groups(request: HttpRequest) -> dict:
    if request.user.school_id is None:
        return None
    # The active memberships of the request (one query, shared with the other sections).
    return {"memberships": memberships_of(request)}
