from django.http import HttpRequest

from kreide.core import banners, navigation


def kreide(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    school = getattr(user, "school", None) if user is not None and user.is_authenticated else None
    return {
        "school": school,
        "nav_items": navigation.items_for(request) if school is not None else [],
        "banners": banners.banners_for(request),
    }
