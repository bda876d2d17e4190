"""What every page needs for the live bell: where its socket is. No query: whether the
person switched live updates off is kept in the cache by `save_preferences`."""

from django.http import HttpRequest

from kreide.core import pagecache
from kreide.core.navigation import fixed_urls
from kreide.messenger.views import realtime_url


def live_off_key(user_id: int) -> str:
    return f"notifications:live-off:{user_id}"


def socket_url(request: HttpRequest) -> str:
    """The notifications socket sits beside the messenger's on the real-time process."""
    return realtime_url(request).replace("/ws/messenger/", "/ws/notifications/")


def live(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    # A former student's read-only session (accounts.gate) has no live bell.
    if user is None or not user.is_active or user.school_id is None:
        return {}
    count_url, list_url = fixed_urls("notifications:count", "notifications:index")
    return {
        "notifications_live": {
            "socket": "" if pagecache.take(request, live_off_key(user.pk)) else socket_url(request),
            "count_url": count_url,
            "list_url": list_url,
        }
    }
