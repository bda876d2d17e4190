"""Every write to accounts goes through here: permission check, audit entry, event."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.contrib.auth.hashers import make_password
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy

from kreide.accounts import events as account_events
from kreide.accounts.credentials import Credential, slip_group
from kreide.accounts.hashing import hash_passwords
from kreide.accounts.importing import ImportRow
from kreide.accounts.models import ExternalIdentity, UpstreamProvider, User
from kreide.accounts.passwords import generate_initial_password
from kreide.accounts.permissions import can_reprint_slips, can_reset_password
from kreide.core import audit, db
from kreide.schools import events as school_events
from kreide.schools import services as school_services
from kreide.schools.access import require_admin
from kreide.schools.models import Group, Membership

audit.declare(
    {
        "account.created": gettext_lazy("Account created"),
        "account.imported": gettext_lazy("Account imported"),
        "account.updated": gettext_lazy("Account changed"),
        "account.role_changed": gettext_lazy("Role changed"),
        "account.deactivated": gettext_lazy("Account deactivated"),
        "account.reactivated": gettext_lazy("Account reactivated"),
        "account.password_reset": gettext_lazy("Password was reset"),
        "account.2fa_enabled": gettext_lazy("Two-factor sign-in turned on"),
        "account.2fa_disabled": gettext_lazy("Two-factor sign-in turned off"),
        "account.2fa_reset": gettext_lazy("Two-factor sign-in turned off by an admin"),
        "account.2fa_backup_codes": gettext_lazy("New backup codes"),
    }
)

IMPORT_ATTEMPTS = 3


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
    groups: Iterable[Group] = (),
) -> tuple[User, str | None]:
    """Create an account; returns it with its generated initial password, if one was made."""
    require_admin(actor, school)
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
    account_events.users_created.publish(school_id=school.pk, user_ids=[user.pk])
    if groups:
        school_services.set_user_groups(actor, user, groups)
    return user, initial


@transaction.atomic
def update_user(actor: User, user: User, groups: Iterable[Group] | None = None, **changes) -> User:
    """Change fields of an account and, if `groups` is given, set its classes and groups."""
    require_admin(actor, user.school)
    if actor.pk == user.pk and changes.get("role", user.role) != user.role:
        raise PermissionDenied  # an admin cannot lock themselves out of the school office
    before = {field: getattr(user, field) for field in changes}
    for field, value in changes.items():
        setattr(user, field, value)
    user.full_clean()
    user.save()
    diff = {f: [before[f], v] for f, v in changes.items() if before[f] != v}
    if diff:
        action = "account.role_changed" if "role" in diff else "account.updated"
        audit.record(user.school, actor, action, user, changes=diff)
    if groups is not None or "role" in diff:
        # A changed role changes the membership role too (teacher ↔ member).
        current = Group.objects.for_school(user.school_id).filter(memberships__user=user)
        school_services.set_user_groups(actor, user, current if groups is None else groups)
    return user


@transaction.atomic
def set_active(actor: User, user: User, active: bool) -> User:
    require_admin(actor, user.school)
    if actor.pk == user.pk:
        raise PermissionDenied
    # The office's decision either way ends a former student's read-only sign-in.
    user.is_active, user.left_school = active, False
    user.save(update_fields=["is_active", "left_school"])
    audit.record(
        user.school, actor, "account.reactivated" if active else "account.deactivated", user
    )
    account_events.user_active_changed.publish(user_id=user.pk, active=active)
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


def awaiting_first_sign_in(group: Group) -> QuerySet[User]:
    """The group's students who still have their initial password (whose slips a reprint
    replaces), by name."""
    return (
        User.objects.for_school(group.school_id)
        .filter(
            memberships__group=group,
            memberships__role=Membership.Role.MEMBER,
            role=User.Role.STUDENT,
            is_active=True,
            must_change_password=True,
        )
        .order_by("last_name", "first_name")
    )


def reprint_initial_passwords(actor: User, group: Group) -> list[Credential]:
    """Slips lost before the first sign-in: new initial passwords for the group's students
    who still have theirs (accounts already in use are left alone)."""
    if not can_reprint_slips(actor, group):
        raise PermissionDenied
    students = list(awaiting_first_sign_in(group))
    passwords = [generate_initial_password() for _ in students]
    # Hashed before the transaction, like an import: no write lock held meanwhile.
    for student, encoded in zip(students, hash_passwords(passwords), strict=True):
        student.password = encoded
    with transaction.atomic():
        User.objects.bulk_update(students, ["password"], batch_size=500)
        audit.record_many(group.school, actor, "account.password_reset", students, group=group.name)
    return [
        Credential(s.first_name, s.last_name, s.username, password, group.name)
        for s, password in zip(students, passwords, strict=True)
    ]


@transaction.atomic
def change_own_password(user: User, new_password: str) -> None:
    user.set_password(new_password)
    user.must_change_password = False
    user.save(update_fields=["password", "must_change_password"])


@dataclass
class ImportResult:
    created: list[User] = dataclasses.field(default_factory=list)
    updated: list[User] = dataclasses.field(default_factory=list)
    unchanged: int = 0
    groups_created: list[Group] = dataclasses.field(default_factory=list)
    credentials: list[Credential] = dataclasses.field(default_factory=list)


def _school_accounts(school, rows: list[ImportRow]) -> dict[str, User]:
    """The school's accounts named in `rows` by lower-case username (sign-in ignores case)."""
    return {
        user.username.lower(): user
        for user in User.objects.for_school(school)
        .annotate(key=Lower("username"))
        .filter(key__in=[row.username.lower() for row in rows])
    }


def import_users(
    actor: User | None,
    school,
    rows: list[ImportRow],
    *,
    as_operator: bool = False,
    progress=lambda done: None,
    before_write: Callable[[], object] = lambda: None,
) -> ImportResult:
    """Create or update the accounts of checked rows (see importing.parse) in one transaction.

    New accounts without a password get a generated one (returned for the slips, never
    stored) and must change it. Existing accounts of the school (same username) get names,
    role, e-mail and classes updated and keep their password. Memberships: every listed
    group is joined; other *classes* are left (a student changes class), courses and
    working groups are kept, and so are the archived classes of past years. Rows with a
    `sis_id` store it on the account. `as_operator` is for the command line (no school admin).
    `before_write` runs first inside the write transaction (after the slow hashing): a
    caller's last check and its own writes, which stand or fall with the import's.
    """
    if not as_operator:
        require_admin(actor, school)
    generated: dict[int, str] = {}
    hashes: dict[int, str] = {}
    for attempt in range(IMPORT_ATTEMPTS):
        # Hashing takes seconds, so it happens before the transaction: no write lock is
        # held meanwhile (on SQLite every sign-in would wait for the import).
        existing = _school_accounts(school, rows)
        new_rows = [
            row for row in rows if row.username.lower() not in existing and row.line not in hashes
        ]
        for row in new_rows:
            if not row.password:
                generated[row.line] = generate_initial_password()
        encoded = hash_passwords(
            [row.password or generated[row.line] for row in new_rows], progress=progress
        )
        hashes.update(zip((row.line for row in new_rows), encoded, strict=True))
        try:
            with transaction.atomic():
                before_write()
                result = _write_import(actor, school, rows, generated, hashes)
                db.refresh_statistics()
            return result
        except IntegrityError:
            # Another import created some of these accounts or classes between our look
            # and our write: look again, they are updates now.
            if attempt == IMPORT_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _write_import(
    actor: User | None,
    school,
    rows: list[ImportRow],
    generated: dict[int, str],
    hashes: dict[int, str],
) -> ImportResult:
    result = ImportResult()
    by_username = _school_accounts(school, rows)

    groups_by_name = {g.name.lower(): g for g in Group.objects.for_school(school)}
    new_names: dict[str, str] = {}
    for row in rows:
        for name in row.classes:
            if name.lower() not in groups_by_name:
                new_names.setdefault(name.lower(), name)
    if new_names:
        result.groups_created = Group.unscoped.bulk_create(
            [
                Group(
                    school=school,
                    name=name,
                    kind=Group.Kind.CLASS,
                    grade=school_services.grade_from_name(name),
                )
                for name in new_names.values()
            ]
        )
        audit.record_many(school, actor, "group.created", result.groups_created, via="import")
        for group in result.groups_created:
            groups_by_name[group.name.lower()] = group
            school_events.group_created.publish(school_id=school.pk, group_id=group.pk)

    for row in rows:
        if row.username.lower() in by_username:
            continue
        if row.line not in hashes:  # its account was deleted while we hashed: rare
            if not row.password:
                generated[row.line] = generate_initial_password()
            hashes[row.line] = make_password(row.password or generated[row.line])
        user = User(
            school=school,
            username=row.username,
            first_name=row.first_name,
            last_name=row.last_name,
            role=row.role,
            email=row.email,
            sis_id=row.sis_id,
            password=hashes[row.line],
            must_change_password=row.line in generated,
        )
        result.created.append(user)
        by_username[row.username.lower()] = user
        if row.line in generated:
            result.credentials.append(
                Credential(
                    row.first_name,
                    row.last_name,
                    row.username,
                    generated[row.line],
                    # A parent's slip goes home through their child's class.
                    row.slip_class
                    or slip_group([groups_by_name[name.lower()] for name in row.classes]),
                )
            )
    User.objects.bulk_create(result.created, batch_size=500)
    audit.record_many(school, actor, "account.imported", result.created)
    if result.created:
        account_events.users_created.publish(
            school_id=school.pk, user_ids=[user.pk for user in result.created]
        )

    changed_fields: set[str] = set()
    created = {user.username.lower() for user in result.created}
    for row in rows:
        if row.username.lower() in created:
            continue
        user = by_username[row.username.lower()]
        wanted = {"first_name": row.first_name, "last_name": row.last_name, "role": row.role}
        if row.email:
            wanted["email"] = row.email
        if row.sis_id:
            wanted["sis_id"] = row.sis_id
        diff = {f: [getattr(user, f), v] for f, v in wanted.items() if getattr(user, f) != v}
        if not diff:
            result.unchanged += 1
            continue
        for name, (_old, new) in diff.items():
            setattr(user, name, new)
        changed_fields.update(diff)
        result.updated.append(user)
        action = "account.role_changed" if "role" in diff else "account.updated"
        audit.record(school, actor, action, user, changes=diff, via="import")
    if result.updated:
        User.objects.bulk_update(result.updated, sorted(changed_fields), batch_size=500)

    _link_imported(school, actor, rows, by_username)
    _sync_import_memberships(school, actor, rows, by_username, groups_by_name)
    pairs = [
        (by_username[parent.username.lower()], by_username[row.username.lower()])
        for row in rows
        for parent in row.parent_rows
    ]
    if pairs:
        _parent_linker(school, actor, pairs)
    return result


ParentLinker = Callable[[object, "User | None", list[tuple[User, User]]], int]


def _no_parent_linker(school, actor, pairs) -> int:
    raise RuntimeError("kreide.parents is not installed: a student file cannot name parents")


# The parents app links the parents a student file names (registered in its ready(), since
# parents build on accounts, not the other way round); it runs inside the import's
# transaction, so a refused link undoes the whole import.
_parent_linker: ParentLinker = _no_parent_linker


def register_parent_linker(linker: ParentLinker) -> None:
    global _parent_linker
    _parent_linker = linker


def _link_imported(school, actor, rows, by_username) -> None:
    """External IDs of the file, at the school's one sign-in provider (checked by
    importing.check_against_database): new links and changed values."""
    linked = [row for row in rows if row.external_id]
    if not linked:
        return
    provider = UpstreamProvider.objects.for_school(school).get()
    users = [by_username[row.username.lower()] for row in linked]
    current = {
        identity.user_id: identity
        for identity in ExternalIdentity.objects.for_school(school).filter(
            provider=provider, user__in=users
        )
    }
    new, changed = [], []
    for row, user in zip(linked, users, strict=True):
        identity = current.get(user.pk)
        if identity is None:
            new.append(
                ExternalIdentity(school=school, provider=provider, user=user, value=row.external_id)
            )
        elif identity.value != row.external_id:
            identity.value, identity.first_sign_in_at = row.external_id, None
            changed.append(identity)
    ExternalIdentity.unscoped.bulk_create(new, batch_size=500)
    ExternalIdentity.unscoped.bulk_update(changed, ["value", "first_sign_in_at"], batch_size=500)
    audit.record_many(
        school,
        actor,
        "account.external_id_set",
        [identity.user for identity in new + changed],
        provider=provider.name,
        via="import",
    )


def _sync_import_memberships(school, actor, rows, by_username, groups_by_name) -> None:
    users = {
        by_username[row.username.lower()].pk: by_username[row.username.lower()] for row in rows
    }
    current: dict[int, list[Membership]] = {}
    for membership in (
        Membership.objects.for_school(school)
        .filter(user_id__in=list(users))
        .select_related("group")
    ):
        current.setdefault(membership.user_id, []).append(membership)
    add, remove = [], []
    for row in rows:
        user = by_username[row.username.lower()]
        role = school_services.membership_role_for(user)
        wanted = {
            groups_by_name[name.lower()].pk: groups_by_name[name.lower()] for name in row.classes
        }
        kept = set()
        for membership in current.get(user.pk, []):
            # Archived classes of past years stay: they record who may read them.
            if membership.role != role or (
                membership.group_id not in wanted
                and membership.group.kind == Group.Kind.CLASS
                and not membership.group.archived_year
            ):
                remove.append(membership)
            else:
                kept.add(membership.group_id)
        add.extend((group, user) for pk, group in wanted.items() if pk not in kept)
    school_services.apply_membership_changes(school, actor, add=add, remove=remove)
