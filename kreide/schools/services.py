"""Every write to classes, groups and memberships goes through here.

Each function checks that the actor administers the school (PermissionDenied otherwise),
writes an audit entry and publishes events after commit:

- `schools.group_created`  (school_id, group_id)
- `schools.group_changed`  (school_id, group_id, changes={field: [old, new]})
- `schools.group_active_changed` (school_id, group_id, active)
- `schools.membership_changed` (school_id, group_id, added=[user ids], removed=[user ids],
  teachers=[user ids now teaching]) — one event per group whose people changed.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext_lazy

from kreide.accounts.models import User
from kreide.core import audit
from kreide.schools import events as school_events
from kreide.schools.access import require_admin
from kreide.schools.models import Group, Membership, School, Subject

_LEADING_GRADE = re.compile(r"^\s*(\d{1,2})")


audit.declare(
    {
        "group.created": gettext_lazy("Class or group created"),
        "group.updated": gettext_lazy("Class or group changed"),
        "group.deactivated": gettext_lazy("Class or group deactivated"),
        "group.reactivated": gettext_lazy("Class or group reactivated"),
        "membership.changed": gettext_lazy("Members changed"),
        "school.settings_changed": gettext_lazy("School settings changed"),
    }
)


def grade_from_name(name: str) -> int | None:
    """ "7a" → 7, "10c" → 10; names without a leading number have no grade."""
    match = _LEADING_GRADE.match(name)
    return int(match.group(1)) if match else None


def membership_role_for(user: User) -> str:
    return Membership.Role.TEACHER if user.is_teacher else Membership.Role.MEMBER


@transaction.atomic
def create_group(
    actor: User,
    school: School,
    *,
    name: str,
    kind: str = Group.Kind.CLASS,
    grade: int | None = None,
    subject: Subject | None = None,
) -> Group:
    require_admin(actor, school)
    group = Group(school=school, name=name.strip(), kind=kind, grade=grade, subject=subject)
    group.full_clean()
    group.save()
    audit.record(school, actor, "group.created", group, kind=kind)
    school_events.group_created.publish(school_id=school.pk, group_id=group.pk)
    return group


@transaction.atomic
def update_group(actor: User, group: Group, **changes) -> Group:
    require_admin(actor, group.school_id)
    before = {field: getattr(group, field) for field in changes}
    for field, value in changes.items():
        setattr(group, field, value)
    group.full_clean()
    group.save()
    diff = {f: [str(before[f] or ""), str(v or "")] for f, v in changes.items() if before[f] != v}
    if diff:
        audit.record(group.school, actor, "group.updated", group, changes=diff)
        school_events.group_changed.publish(
            school_id=group.school_id, group_id=group.pk, changes=diff
        )
    return group


@transaction.atomic
def set_group_active(actor: User, group: Group, active: bool) -> Group:
    require_admin(actor, group.school_id)
    if active and group.archived_year:
        raise PermissionDenied  # a past year's archive stays read-only
    group.is_active = active
    group.save(update_fields=["is_active"])
    audit.record(group.school, actor, "group.reactivated" if active else "group.deactivated", group)
    school_events.group_active_changed.publish(
        school_id=group.school_id, group_id=group.pk, active=active
    )
    return group


def apply_membership_changes(
    school: School,
    actor: User | None,
    add: Iterable[tuple[Group, User]] = (),
    remove: Iterable[Membership] = (),
) -> None:
    """Add and remove memberships in bulk (inside the caller's transaction): one audit entry
    and one `schools.membership_changed` event per group. The membership role follows the
    user's role: teachers teach the group, everyone else is a member."""
    school_id = school.pk
    added: dict[int, list[int]] = defaultdict(list)
    removed: dict[int, list[int]] = defaultdict(list)
    groups: dict[int, Group] = {}
    new = []
    for group, user in add:
        new.append(
            Membership(school_id=school_id, group=group, user=user, role=membership_role_for(user))
        )
        added[group.pk].append(user.pk)
        groups[group.pk] = group
    stale = list(remove)
    for membership in stale:
        removed[membership.group_id].append(membership.user_id)
        groups[membership.group_id] = membership.group
    if stale:
        Membership.objects.for_school(school_id).filter(pk__in=[m.pk for m in stale]).delete()
    Membership.unscoped.bulk_create(new, batch_size=1000)
    if not groups:
        return
    teachers: dict[int, list[int]] = defaultdict(list)
    for group_id, user_id in (
        Membership.objects.for_school(school_id)
        .filter(group_id__in=groups, role=Membership.Role.TEACHER)
        .values_list("group_id", "user_id")
    ):
        teachers[group_id].append(user_id)
    for group_id, group in groups.items():
        audit.record(
            school,
            actor,
            "membership.changed",
            group,
            added=sorted(added[group_id]),
            removed=sorted(removed[group_id]),
        )
        school_events.membership_changed.publish(
            school_id=school_id,
            group_id=group_id,
            added=sorted(added[group_id]),
            removed=sorted(removed[group_id]),
            teachers=sorted(teachers[group_id]),
        )


@transaction.atomic
def add_members(actor: User, group: Group, users: Iterable[User]) -> int:
    """Add users to a group (teachers as its teachers); returns how many were new."""
    require_admin(actor, group.school_id)
    present = set(
        Membership.objects.for_school(group.school_id)
        .filter(group=group)
        .values_list("user_id", flat=True)
    )
    new = [
        (group, user)
        for user in users
        if user.school_id == group.school_id and user.pk not in present
    ]
    apply_membership_changes(group.school, actor, add=new)
    return len(new)


@transaction.atomic
def remove_member(actor: User, group: Group, user: User) -> None:
    require_admin(actor, group.school_id)
    stale = list(
        Membership.objects.for_school(group.school_id)
        .filter(group=group, user=user)
        .select_related("group")
    )
    apply_membership_changes(group.school, actor, remove=stale)


@transaction.atomic
def set_user_groups(actor: User, user: User, groups: Iterable[Group]) -> None:
    """Make `groups` exactly the user's classes and groups (role follows the user's role)."""
    require_admin(actor, user.school_id)
    wanted = {group.pk: group for group in groups if group.school_id == user.school_id}
    # Archived classes of past years are not among the choices and stay as they are.
    current = list(
        Membership.objects.for_school(user.school_id)
        .filter(user=user, group__archived_year="")
        .select_related("group")
    )
    role = membership_role_for(user)
    # A membership with the wrong role (the user's role changed) is replaced.
    stale = [m for m in current if m.group_id not in wanted or m.role != role]
    kept = {m.group_id for m in current if m not in stale}
    add = [(group, user) for pk, group in wanted.items() if pk not in kept]
    apply_membership_changes(user.school, actor, add=add, remove=stale)


# --- The school's settings --------------------------------------------------------------


@transaction.atomic
def update_settings(actor: User, changes: dict[str, bool]) -> School:
    """The school office changes its school's settings (the fields of SchoolSettingsForm)."""
    school = School.objects.select_for_update().get(pk=actor.school_id)
    require_admin(actor, school)
    diff = {name: value for name, value in changes.items() if getattr(school, name) != value}
    if diff:
        for name, value in diff.items():
            setattr(school, name, value)
        school.save(update_fields=list(diff))
        audit.record(school, actor, "school.settings_changed", school, changes=diff)
    return school
