"""Parents: links to children (by the school office, by import, by a redeemed code), what a
parent sees of a child, and absence reports. Every write checks its permission here and
leaves an audit entry."""

from __future__ import annotations

import csv
import hashlib
import io
import secrets
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kreide.accounts.importing import ImportFileError, read_format
from kreide.accounts.models import User
from kreide.accounts.passwords import generate_initial_password
from kreide.core import audit
from kreide.core.errors import Refusal
from kreide.parents import events
from kreide.parents.models import AbsenceReport, ParentInvitation, ParentLink
from kreide.schools import access
from kreide.tasks.services import student_task_list
from kreide.timetable import calendars, plans
from kreide.timetable.models import Event

audit.declare(
    {
        "parent.linked": gettext_lazy("Parent linked to a child"),
        "parent.unlinked": gettext_lazy("Parent link removed"),
        "parent.invited": gettext_lazy("Parent invitation codes printed"),
        "parent.redeemed": gettext_lazy("Parent invitation code redeemed"),
        "absence.reported": gettext_lazy("Absence reported"),
        "absence.acknowledged": gettext_lazy("Absence acknowledged"),
    }
)

INVITATION_DAYS = 60
DATES_DAYS = 28  # the child's page shows four weeks of dates
MAX_ABSENCE_DAYS = 31
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
PARENT_COLUMNS = ("parent_username", "first_name", "last_name", "child_username")


class ParentRefusal(Refusal):
    code = "parents"


# --- Links ------------------------------------------------------------------------------


def _student(school, child: User) -> None:
    if child.school_id != getattr(school, "pk", school) or child.role != User.Role.STUDENT:
        raise ParentRefusal(_("Parents can only be linked to students of this school."))


def _link(school, actor: User | None, parent: User, child: User, how: str) -> ParentLink:
    if parent.school_id != child.school_id or parent.role != User.Role.PARENT:
        raise ParentRefusal(_("Only parent accounts of this school can be linked to a child."))
    _student(school, child)
    link, created = ParentLink.objects.for_school(school).get_or_create(parent=parent, child=child)
    if created:
        audit.record(school, actor or parent, "parent.linked", link, how=how)
    return link


@transaction.atomic
def link(actor: User, parent: User, child: User) -> ParentLink:
    """The school office links a parent account to a child of its school."""
    access.require_admin(actor, child.school_id)
    return _link(actor.school_id, actor, parent, child, "office")


@transaction.atomic
def unlink(actor: User, parent_link: ParentLink) -> None:
    access.require_admin(actor, parent_link.school_id)
    audit.record(parent_link.school_id, actor, "parent.unlinked", parent_link)
    parent_link.delete()


def school_links(school) -> QuerySet[ParentLink]:
    return (
        ParentLink.objects.for_school(school)
        .select_related("parent", "child")
        .order_by("parent__last_name", "parent__first_name", "parent_id", "child__first_name")
    )


# --- Import -----------------------------------------------------------------------------


@dataclass
class ParentImport:
    created: list[tuple[User, str]] = field(default_factory=list)  # new accounts, passwords
    linked: int = 0
    errors: list[str] = field(default_factory=list)


def parse_parent_file(data: bytes) -> list[tuple[int, dict[str, str]]]:
    """(line, row) of a parent file: `parent_username;first_name;last_name;child_username`
    with a header line; ImportFileError for a file that cannot be read."""
    text = data.decode(read_format(data).encoding)
    lines = text.splitlines()
    delimiter = ";" if lines and lines[0].count(";") >= lines[0].count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = [name.strip().lower() for name in next(reader, [])]
    if tuple(header[:4]) != PARENT_COLUMNS:
        raise ParentRefusal(
            _("The first line must name the columns %(columns)s.")
            % {"columns": ";".join(PARENT_COLUMNS)}
        )
    return [
        (number, dict(zip(PARENT_COLUMNS, (cell.strip() for cell in row), strict=False)))
        for number, row in enumerate(reader, start=2)
        if any(cell.strip() for cell in row)
    ]


@transaction.atomic
def import_parents(actor: User, data: bytes) -> ParentImport:
    """Create the parent accounts a file names (with initial passwords to print) and link
    them to the children; a line that cannot be used is reported and nothing is written."""
    school = actor.school
    access.require_admin(actor, school)
    try:
        rows = parse_parent_file(data)
    except ImportFileError as error:
        raise ParentRefusal("; ".join(str(e) for e in error.errors)) from None
    names = {row["parent_username"] for _, row in rows} | {row["child_username"] for _, row in rows}
    accounts = {user.username: user for user in User.objects.filter(username__in=names)}
    result = ParentImport()
    for line, row in rows:
        parent = accounts.get(row["parent_username"])
        child = accounts.get(row.get("child_username", ""))
        if len(row) < 4 or not all(row.values()):
            result.errors.append(_("Line %(line)d: four columns are needed.") % {"line": line})
        elif child is None or child.school_id != school.pk or not child.is_student:
            result.errors.append(
                _("Line %(line)d: there is no student %(name)s at this school.")
                % {"line": line, "name": row["child_username"]}
            )
        elif parent is not None and (parent.school_id != school.pk or not parent.is_parent):
            result.errors.append(
                _("Line %(line)d: %(name)s is taken by an account that is not a parent here.")
                % {"line": line, "name": row["parent_username"]}
            )
    if result.errors:
        return result
    for _line, row in rows:
        parent = accounts.get(row["parent_username"])
        if parent is None:
            password = generate_initial_password()
            parent = User(
                school=school,
                username=row["parent_username"],
                first_name=row["first_name"],
                last_name=row["last_name"],
                role=User.Role.PARENT,
                must_change_password=True,
            )
            parent.set_password(password)
            parent.full_clean()
            parent.save()
            audit.record(school, actor, "account.imported", parent, role=User.Role.PARENT)
            accounts[parent.username] = parent
            result.created.append((parent, password))
        _link(school, actor, parent, accounts[row["child_username"]], "import")
        result.linked += 1
    return result


def link_imported(school, actor: User | None, pairs: list[tuple[User, User]]) -> int:
    """Link the parents a student file names to their children: called by kreide.accounts'
    import_users inside its transaction, after the file was checked (both accounts of
    `school`, the parent of role parent, the child a student). Links that exist stay; one
    bulk insert for the new ones (an import names hundreds). Returns how many are new."""
    for parent, child in pairs:
        if parent.role != User.Role.PARENT or parent.school_id != child.school_id:
            raise ParentRefusal(_("Only parent accounts of this school can be linked to a child."))
        _student(school, child)
    existing = set(
        ParentLink.objects.for_school(school)
        .filter(child__in=[child for _parent, child in pairs])
        .values_list("parent_id", "child_id")
    )
    new: dict[tuple[int, int], ParentLink] = {}
    for parent, child in pairs:
        if (parent.pk, child.pk) not in existing:
            new.setdefault(
                (parent.pk, child.pk),
                ParentLink(school_id=getattr(school, "pk", school), parent=parent, child=child),
            )
    # A link made meanwhile by the office is an IntegrityError: the import looks again.
    created = ParentLink.unscoped.bulk_create(list(new.values()), batch_size=500)
    audit.record_many(school, actor, "parent.linked", created, how="import")
    return len(created)


# --- Invitation codes -------------------------------------------------------------------


def _code_hash(code: str) -> str:
    normal = "".join(ch for ch in code.upper() if ch.isalnum())
    return hashlib.sha256(normal.encode()).hexdigest()


def _new_code() -> str:
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(12))
    return "-".join(raw[i : i + 4] for i in range(0, 12, 4))


@transaction.atomic
def invite(actor: User, children: list[User]) -> list[tuple[User, str]]:
    """A fresh code for each child, to print on a slip; returns (child, code)."""
    access.require_admin(actor, actor.school_id)
    expires = timezone.now() + timedelta(days=INVITATION_DAYS)
    codes = []
    for child in children:
        _student(actor.school_id, child)
        code = _new_code()
        ParentInvitation.objects.for_school(actor.school_id).create(
            child=child, code_hash=_code_hash(code), expires_at=expires
        )
        codes.append((child, code))
    audit.record(actor.school_id, actor, "parent.invited", None, count=len(codes))
    return codes


def _open_invitation(code: str) -> ParentInvitation:
    invitation = (
        ParentInvitation.unscoped.select_related("child", "school")
        .select_for_update(of=("self",))
        .filter(code_hash=_code_hash(code), redeemed_at__isnull=True)
        .first()
    )
    if (
        invitation is None
        or invitation.expires_at < timezone.now()
        or not invitation.child.is_active
    ):
        raise ParentRefusal(_("This code is not valid (mistyped, used or expired)."))
    return invitation


def _redeemed(invitation: ParentInvitation, parent: User) -> ParentLink:
    invitation.redeemed_by = parent
    invitation.redeemed_at = timezone.now()
    invitation.save(update_fields=["redeemed_by", "redeemed_at"])
    audit.record(invitation.school_id, parent, "parent.redeemed", invitation.child)
    return _link(invitation.school_id, parent, parent, invitation.child, "code")


@transaction.atomic
def redeem_new(code: str, *, username: str, first_name: str, last_name: str, password: str) -> User:
    """Create a parent's own account from a code on a slip."""
    invitation = _open_invitation(code)
    if User.objects.filter(username__iexact=username).exists():
        raise ParentRefusal(_("This username is taken; please choose another."))
    parent = User(
        school_id=invitation.school_id,
        username=username,
        first_name=first_name,
        last_name=last_name,
        role=User.Role.PARENT,
    )
    validate_password(password, parent)
    parent.set_password(password)
    parent.full_clean()
    parent.save()
    audit.record(invitation.school_id, parent, "account.created", parent, role=User.Role.PARENT)
    _redeemed(invitation, parent)
    return parent


@transaction.atomic
def redeem_for(parent: User, code: str) -> ParentLink:
    """A signed-in parent adds another child (a sibling) with its code."""
    invitation = _open_invitation(code)
    if not (access.participates(parent) and parent.is_parent):
        raise PermissionDenied
    if invitation.school_id != parent.school_id:
        raise ParentRefusal(_("This code is for a child at another school."))
    return _redeemed(invitation, parent)


# --- What a parent sees -----------------------------------------------------------------


def child_of(parent: User, child_id: int) -> User:
    """The parent's linked child, PermissionDenied for anyone else's."""
    child = access.children_of(parent).filter(pk=child_id).first()
    if child is None:
        raise PermissionDenied
    return child


def child_groups(parent: User, child: User) -> list[int]:
    """The active classes and groups the parent's child is a member of (one query): what
    the child's tasks, timetable and dates come from. A deactivated class is not among
    them; a child who has not yet changed their initial password is followed all the same."""
    return access.child_group_ids(parent, child)


def child_tasks(child: User, groups: list[int]) -> list:
    """The child's tasks with due date and hand-in state; the page shows their text only
    where the school lets parents see it (School.parents_see_task_contents). `groups`:
    child_groups, which checked the link."""
    return student_task_list(child, groups, followed=True)


def child_days(child: User, groups: list[int], days: list[date] | None = None) -> list:
    """The timetable of the child's `groups` (child_groups) with its substitutions for
    `days`: by default the next two school days, as the dashboard shows them (on a
    Saturday, Monday's plan matters)."""
    if days is None:
        free = calendars.free_days(child.school_id)
        first = calendars.school_day_on_or_after(timezone.localdate(), free)
        days = [first, calendars.next_school_day(first, free)]
    return plans.days_of(child.school_id, plans.targets_of(child, groups), days)


def child_dates(parent: User, groups: list[int]) -> list:
    """The school's dates and those of the child's classes and groups (`groups`:
    child_groups, which checked the link) for the next DATES_DAYS days, from the calendar's
    monthly cache; never the child's own personal calendar, nor the parent's."""
    today = timezone.localdate()
    found = calendars.events_for(parent, groups, today, today + timedelta(days=DATES_DAYS - 1))
    return [item for item in found if item.audience != Event.Audience.PERSONAL]


# --- Absence reports --------------------------------------------------------------------


@transaction.atomic
def report_absence(
    parent: User, child: User, first_day: date, last_day: date, note: str = ""
) -> AbsenceReport:
    if not access.is_parent_of(parent, child):
        raise PermissionDenied
    if last_day < first_day:
        raise ParentRefusal(_("The last day cannot be before the first day."))
    if (last_day - first_day).days >= MAX_ABSENCE_DAYS:
        raise ParentRefusal(
            _("Please report at most %(days)d days at once.") % {"days": MAX_ABSENCE_DAYS}
        )
    report = AbsenceReport.objects.for_school(child.school_id).create(
        child=child, reported_by=parent, first_day=first_day, last_day=last_day, note=note[:2000]
    )
    audit.record(child.school_id, parent, "absence.reported", report)
    events.absence_reported.publish(report_id=report.pk)
    return report


def absences_for(user: User) -> QuerySet[AbsenceReport]:
    """The reports a teacher (for the classes they teach) or the school office reads."""
    if access.is_admin_of(user, user.school_id):
        reports = AbsenceReport.objects.for_school(user.school_id)
    elif access.participates(user) and user.is_teacher:
        taught = access.taught_groups(user).filter(kind="class")
        reports = AbsenceReport.objects.for_school(user.school_id).filter(
            child__in=access.member_ids(user.school_id, taught)
        )
    else:
        return AbsenceReport.unscoped.none()
    return reports.select_related("child", "reported_by", "acknowledged_by")


def reported_by_parent(parent: User) -> QuerySet[AbsenceReport]:
    return (
        AbsenceReport.objects.for_school(parent.school_id)
        .filter(child__in=access.children_of(parent))
        .select_related("child", "acknowledged_by")
    )


@transaction.atomic
def acknowledge(user: User, report_id: int) -> AbsenceReport:
    report = absences_for(user).select_for_update(of=("self",)).filter(pk=report_id).first()
    if report is None:
        raise PermissionDenied
    if report.acknowledged_at is None:
        report.acknowledged_by = user
        report.acknowledged_at = timezone.now()
        report.save(update_fields=["acknowledged_by", "acknowledged_at"])
        audit.record(report.school_id, user, "absence.acknowledged", report)
        events.absence_acknowledged.publish(report_id=report.pk)
    return report
