from django.http import HttpRequest

from kreide.core import banners, navigation


def kreide(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    school = getattr(user, "school", None) if user is not None and user.is_authenticated else None
    nav_items = navigation.items_for(request) if school is not None else []
    return {
        "school": school,
        "nav_items": nav_items,
        # Shown on the phone's menu button, where the navigation itself is folded away.
        "nav_count": sum([item["count"] for item in nav_items]),
        "banners": banners.banners_for(request),
    }
