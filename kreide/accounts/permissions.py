"""Who may change whose account, built on kreide.schools.access."""

from __future__ import annotations

from kreide.accounts.models import User
from kreide.schools import access


def can_reset_password(actor: User, target: User) -> bool:
    if not access.participates(actor) or actor.pk == target.pk:
        return False
    if access.is_admin_of(actor, target.school_id):
        return True
    return target.is_student and access.teaches(actor, target)


def can_reprint_slips(actor: User, group) -> bool:
    """New initial passwords for a whole class: its teachers and the school's admins."""
    return access.is_admin_of(actor, group.school_id) or access.teaches_group(actor, group)
