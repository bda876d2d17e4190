"""Who may do what with accounts. Views and services both ask here; nothing else decides."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from kreide.accounts.models import User
from kreide.schools.models import Membership


def is_admin_of(actor: User, school) -> bool:
    return (
        actor.is_authenticated
        and actor.is_active
        and actor.role == User.Role.SCHOOL_ADMIN
        and school is not None
        and actor.school_id == getattr(school, "pk", school)
    )


def teaches(teacher: User, student: User) -> bool:
    """The teacher teaches a class or group the student belongs to (same school)."""
    if not (teacher.is_teacher and teacher.school_id and teacher.school_id == student.school_id):
        return False
    taught = (
        Membership.objects.for_school(teacher.school_id)
        .filter(user=teacher, role=Membership.Role.TEACHER)
        .values("group_id")
    )
    return (
        Membership.objects.for_school(teacher.school_id)
        .filter(user=student, role=Membership.Role.MEMBER, group_id__in=taught)
        .exists()
    )


def can_reset_password(actor: User, target: User) -> bool:
    if not actor.is_authenticated or not actor.is_active or actor.pk == target.pk:
        return False
    if is_admin_of(actor, target.school_id):
        return True
    return target.is_student and teaches(actor, target)


def can_reprint_slips(actor: User, group) -> bool:
    """New initial passwords for a whole class: its teachers and the school's admins."""
    if not actor.is_authenticated or not actor.is_active:
        return False
    if is_admin_of(actor, group.school_id):
        return True
    return (
        actor.is_teacher
        and actor.school_id == group.school_id
        and Membership.objects.for_school(group.school_id)
        .filter(group=group, user=actor, role=Membership.Role.TEACHER)
        .exists()
    )


def require_admin(actor: User | None, school) -> None:
    """PermissionDenied unless `actor` administers `school` (a School or its id)."""
    if actor is None or not is_admin_of(actor, school):
        raise PermissionDenied
