"""The dashboard section: rooms with unread messages (one query for all rooms)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from kreide.core import fragments, pagecache
from kreide.messenger import services
from kreide.messenger.models import Room


def unread(request: HttpRequest) -> dict[str, Any] | None:
    user = request.user
    if user.school_id is None:
        return None
    rows = [row for row in services.room_rows(user) if row[3]]
    partners = services.partner_names(
        user, [room_id for room_id, kind, _name, _unread in rows if kind == Room.Kind.DIRECT]
    )
    total = sum(row[3] for row in rows)
    # The navigation's count (services.unread_total) is this sum: written with the
    # dashboard's other writes and handed to the page's round trip (which the dashboard
    # made before the sections), it costs the page no query. A count that round trip found
    # as it is stays as it is (expiring sooner: no older): no write.
    key = services.unread_key(user.pk)
    if pagecache.peek(request, key) != total:
        fragments.write({key: total}, services.UNREAD_SECONDS)
        pagecache.put(request, key, total)
    return {
        "rooms": [
            {"id": room_id, "title": services.title_of(room_id, kind, name, partners), "unread": n}
            for room_id, kind, name, n in rows[:8]
        ],
        "total": total,
    }


def unread_kept(context: dict[str, Any]) -> tuple:
    """Everything the section shows (messenger/section.html): rooms and counts."""
    return context["total"], tuple(
        (room["id"], room["title"], room["unread"]) for room in context["rooms"]
    )
