"""The schools module's dashboard section: the user's classes and groups."""

from django.http import HttpRequest

from kreide.schools.access import memberships_of


def my_groups(request: HttpRequest) -> dict:
    if request.user.school_id is None:
        return None
    # The active memberships of the request (one query, shared with the other sections).
    return {"memberships": memberships_of(request)}


def groups_kept(context: dict) -> tuple:
    """Everything the section shows (schools/section_groups.html)."""
    return tuple((m.name, m.kind, m.role) for m in context["memberships"])
