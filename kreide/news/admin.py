from django.contrib import admin

from kreide.news.models import News
from kreide.schools.admin import OperatorOnly


@admin.register(News)
class NewsAdmin(OperatorOnly):
    """Operators post news for a school from /operator/ (e.g. during an incident)."""

    list_display = ("title", "school", "audience", "published_at", "pinned")
    list_filter = ("school", "audience")
    exclude = ("author", "announced_at", "edited_at", "reminded_at")
