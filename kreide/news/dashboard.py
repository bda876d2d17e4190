"""The dashboard's news box: the latest news for the signed-in person.

Every student of a school loads the overview at 8:00, so the school's current news is
read once and cached per school (renewed when news changes, and within the minute for
scheduled news); each person's box is filtered from it in Python with the groups the
dashboard loads anyway (`memberships_of`), so it costs students and teachers no query."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils import timezone

from kreide.core import fragments
from kreide.news import services
from kreide.news.models import News
from kreide.schools import access

CANDIDATES = 100


def _current(school_id: int) -> list[News]:
    now = timezone.now()
    items = list(
        News.objects.for_school(school_id)
        .filter(published_at__lte=now)
        .exclude(expires_at__lte=now)
        .select_related("author")
        .prefetch_related("groups")[:CANDIDATES]
    )
    for news in items:
        news.group_ids = {group.pk for group in news.groups.all()}
    return items


def news_entries(request: HttpRequest) -> dict[str, list[str]]:
    """The school's cached news that news() reads."""
    if not access.participates(request.user):
        return {}
    return {"news": [services.news_scope(request.user.school_id)]}


def news_kept(context: dict) -> tuple:
    """Everything the news section shows of its items (news/section.html); the text by
    its hash, so kept keys do not hold texts of up to 20,000 characters."""
    return tuple(
        (
            item.pk,
            item.title,
            item.published_at,
            item.edited_at,
            item.pinned,
            item.is_letter,
            hash(item.body),
        )
        for item in context["news_items"]
    )


def news(request: HttpRequest) -> dict | None:
    user = request.user
    if not access.participates(user):
        return None
    [(name, scopes)] = news_entries(request).items()
    items = fragments.cached(name, scopes, lambda: _current(user.school_id), 60)
    reader = services.Reader.of_request(request)
    now = timezone.now()
    mine = [
        item
        for item in items
        if (item.expires_at is None or item.expires_at > now) and reader.reads(item)
    ]
    return {"news_items": mine[: services.DASHBOARD_LENGTH]}
