"""The signed-in user's classes and groups, loaded once per request.

The dashboard's sections, the task pages, the schedule and the video module all need the
signed-in user's memberships; `memberships_of(request)` runs one query and keeps the
answer on the request. Nothing is kept across requests, so nothing needs invalidating;
services that are also called outside a request take the group ids as an argument.
"""

from __future__ import annotations

from dataclasses import dataclass

from kreide.schools.models import Group, Membership

_ATTRIBUTE = "_kreide_memberships"


@dataclass(frozen=True)
class MyGroup:
    group_id: int
    role: str
    name: str
    kind: str
    grade: int | None
    is_active: bool

    def get_kind_display(self) -> str:
        return str(dict(Group.Kind.choices).get(self.kind, self.kind))

    @property
    def is_member(self) -> bool:
        return self.role == Membership.Role.MEMBER

    @property
    def is_teacher(self) -> bool:
        return self.role == Membership.Role.TEACHER


def memberships_of(request) -> list[MyGroup]:
    """Every membership of the signed-in user (any role, active and inactive groups), one
    query per request; [] for anonymous users and users without a school."""
    user = request.user
    if not user.is_authenticated or user.school_id is None:
        return []
    found = getattr(request, _ATTRIBUTE, None)
    if found is None or found[0] != user.pk:
        found = (
            user.pk,
            [
                MyGroup(*row)
                for row in Membership.objects.for_school(user.school_id)
                .filter(user=user)
                .order_by("group__grade", "group__name", "group_id")
                .values_list(
                    "group_id",
                    "role",
                    "group__name",
                    "group__kind",
                    "group__grade",
                    "group__is_active",
                )
            ],
        )
        setattr(request, _ATTRIBUTE, found)
    return found[1]


def group_ids(request, role: str | None = None) -> list[int]:
    """The ids of the user's groups, of one role if given."""
    return [m.group_id for m in memberships_of(request) if role is None or m.role == role]


def active_classes(request) -> list[tuple[int, int | None]]:
    """The user's active classes as (group id, grade), e.g. for kreide.schedule."""
    return [
        (m.group_id, m.grade)
        for m in memberships_of(request)
        if m.kind == Group.Kind.CLASS and m.is_active
    ]
