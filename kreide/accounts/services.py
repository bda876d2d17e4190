"""Every write to accounts goes through here: permission check, audit entry, event."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import transaction

from kreide.accounts.models import User
from kreide.accounts.passwords import generate_initial_password
from kreide.accounts.permissions import can_reset_password, is_admin_of
from kreide.core import audit, events


def _require_admin(actor: User, school) -> None:
    if not is_admin_of(actor, school):
        raise PermissionDenied


@transaction.atomic
def create_user(
    actor: User,
    school,
    *,
    username: str,
    first_name: str,
    last_name: str,
    role: str,
    email: str = "",
    password: str | None = None,
) -> tuple[User, str | None]:
    """Create an account; returns it with its generated initial password, if one was made."""
    _require_admin(actor, school)
    initial = None
    user = User(
        school=school,
        username=username,
        first_name=first_name,
        last_name=last_name,
        role=role,
        email=email,
    )
    if password:
        user.set_password(password)
    else:
        initial = generate_initial_password()
        user.set_password(initial)
        user.must_change_password = True
    user.full_clean()
    user.save()
    audit.record(school, actor, "account.created", user, role=role)
    events.publish("accounts.user_created", user_id=user.pk)
    return user, initial


@transaction.atomic
def update_user(actor: User, user: User, **changes) -> User:
    _require_admin(actor, user.school)
    before = {field: getattr(user, field) for field in changes}
    for field, value in changes.items():
        setattr(user, field, value)
    user.full_clean()
    user.save()
    diff = {f: [before[f], v] for f, v in changes.items() if before[f] != v}
    if diff:
        action = "account.role_changed" if "role" in diff else "account.updated"
        audit.record(user.school, actor, action, user, changes=diff)
    return user


@transaction.atomic
def set_active(actor: User, user: User, active: bool) -> User:
    _require_admin(actor, user.school)
    if actor.pk == user.pk:
        raise PermissionDenied
    user.is_active = active
    user.save(update_fields=["is_active"])
    audit.record(
        user.school, actor, "account.reactivated" if active else "account.deactivated", user
    )
    events.publish("accounts.user_active_changed", user_id=user.pk, active=active)
    return user


@transaction.atomic
def reset_password(actor: User, user: User) -> str:
    """A new initial password the user must change at next sign-in (for a printable slip)."""
    if not can_reset_password(actor, user):
        raise PermissionDenied
    password = generate_initial_password()
    user.set_password(password)
    user.must_change_password = True
    user.save(update_fields=["password", "must_change_password"])
    audit.record(user.school, actor, "account.password_reset", user)
    return password


@transaction.atomic
def change_own_password(user: User, new_password: str) -> None:
    user.set_password(new_password)
    user.must_change_password = False
    user.save(update_fields=["password", "must_change_password"])
