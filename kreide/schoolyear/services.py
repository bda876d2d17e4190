"""The school year and its rollover.

`plan_rollover(school)` works out, without writing, what the rollover would do: which class
becomes which (the school's rule: the grade number +1 keeping the suffix, 5a → 6a; the
final grade graduates; `ClassException`s rename, merge or let a class leave), whose account
is deactivated (graduates, marked leavers, classes that leave), which teachers follow and
what is archived. `rollover(actor, school, dry_run=...)` computes that plan under the
school's row lock and, unless it is a dry run, applies exactly that plan in the same
transaction: last year's classes become read-only archives ("5a (2025/26)", inactive,
memberships kept so their people can read them), new classes are created with the
rosters, their messenger rooms follow through the schools events, the accounts are
deactivated (never deleted) and the next `SchoolYear` becomes current.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kreide.accounts import events as account_events
from kreide.accounts.models import User
from kreide.core import audit
from kreide.core.errors import Refusal
from kreide.files.models import Node
from kreide.messenger.models import Message
from kreide.schools import events as school_events
from kreide.schools import services as school_services
from kreide.schools.access import require_admin
from kreide.schools.models import Group, Membership, School
from kreide.schoolyear.models import ClassException, Leaver, RolloverRule, SchoolYear
from kreide.tasks.models import Submission, Task
from kreide.timetable.models import Event

audit.declare(
    {
        "schoolyear.rollover": gettext_lazy("School year rolled over"),
        "schoolyear.class_archived": gettext_lazy("Class archived at the rollover"),
        "schoolyear.settings": gettext_lazy("School year settings changed"),
        "schoolyear.exception": gettext_lazy("Rollover exception of a class changed"),
        "schoolyear.leaver": gettext_lazy("Leaver marked or unmarked"),
    }
)

_GRADE_AND_SUFFIX = re.compile(r"^(\d{1,2})(.*)$")
_LABEL = re.compile(r"^(\d{4})/(\d{2})$")


class RolloverRefused(Refusal):
    status = 409
    code = "rollover_refused"


def archive_scope(school_id: int) -> str:
    """Fragment scope of who has archives (fed by archived classes, schoolyear/apps.py)."""
    return f"school:{school_id}:archives"


# --------------------------------------------------------------------------- the year


def label_for(starts_on: date) -> str:
    """The label of the school year starting on `starts_on`: 2025-08-01 → "2025/26"."""
    return f"{starts_on.year}/{(starts_on.year + 1) % 100:02d}"


def next_label(label: str) -> str:
    match = _LABEL.match(label)
    if not match:
        raise ValueError(label)
    return label_for(date(int(match.group(1)) + 1, 1, 1))


def current_year(school: School | int) -> SchoolYear | None:
    return SchoolYear.objects.for_school(school).filter(is_current=True).first()


def holidays_of(year: SchoolYear) -> list[Event]:
    """The school holidays within the year: the calendar's (kreide.timetable) events of kind
    holiday, entered there or imported from the ministry's ICS file. Each gets `first_day`
    and `last_day` (local dates; an all-day event ends at the next midnight, so a holiday
    "until 31 July" ends at 1 August 00:00 and lies wholly before a year from 1 August)."""
    day = timedelta(days=1)
    found = list(
        Event.objects.for_school(year.school_id)
        .filter(
            kind=Event.Kind.HOLIDAY,
            audience=Event.Audience.SCHOOL,
            starts_at__lt=_midnight(year.ends_on + day),
            ends_at__gt=_midnight(year.starts_on),
        )
        .order_by("starts_at")
    )
    for event in found:
        event.first_day = timezone.localtime(event.starts_at).date()
        ends = timezone.localtime(event.ends_at)
        last = ends.date() - day if ends.time() == time.min else ends.date()
        event.last_day = max(last, event.first_day)
    return found


def _midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def rule_for(school: School | int) -> RolloverRule:
    found = RolloverRule.objects.for_school(school).first()
    return found or RolloverRule(school_id=getattr(school, "pk", school))


@transaction.atomic
def save_year(actor: User, school: School, *, label: str, starts_on: date, ends_on: date) -> None:
    """Set the current school year's span (creating it if the school has none)."""
    require_admin(actor, school)
    year = current_year(school) or SchoolYear(school=school, is_current=True)
    year.label, year.starts_on, year.ends_on = label, starts_on, ends_on
    year.full_clean()
    year.save()
    audit.record(school, actor, "schoolyear.settings", year, starts=str(starts_on))


@transaction.atomic
def save_rule(actor: User, school: School, *, final_grade: int, teachers_follow: bool) -> None:
    require_admin(actor, school)
    rule = rule_for(school)
    rule.final_grade, rule.teachers_follow = final_grade, teachers_follow
    rule.save()
    audit.record(
        school, actor, "schoolyear.settings", final_grade=final_grade, teachers=teachers_follow
    )


@transaction.atomic
def set_exception(actor: User, group: Group, action: str, target: str = "") -> None:
    """`action` "" (follow the rule), ClassException.Action.MOVE (with `target`) or LEAVE."""
    require_admin(actor, group.school_id)
    ClassException.objects.for_school(group.school_id).filter(group=group).delete()
    if action:
        ClassException.objects.for_school(group.school_id).create(
            group=group, action=action, target=target.strip()
        )
    audit.record(group.school_id, actor, "schoolyear.exception", group, rule=action, to=target)


@transaction.atomic
def set_leavers(actor: User, group: Group, leaving: set[int]) -> None:
    """Mark exactly `leaving` (user ids) of the class's students as leavers."""
    require_admin(actor, group.school_id)
    students = set(
        Membership.objects.for_school(group.school_id)
        .filter(group=group, role=Membership.Role.MEMBER)
        .values_list("user_id", flat=True)
    )
    leaving &= students
    marked = Leaver.objects.for_school(group.school_id).filter(user_id__in=students)
    before = set(marked.values_list("user_id", flat=True))
    marked.exclude(user_id__in=leaving).delete()
    Leaver.unscoped.bulk_create(
        Leaver(school_id=group.school_id, user_id=uid) for uid in sorted(leaving - before)
    )
    if before != leaving:
        audit.record(
            group.school_id,
            actor,
            "schoolyear.leaver",
            group,
            marked=sorted(leaving - before),
            unmarked=sorted(before - leaving),
        )


# --------------------------------------------------------------------------- the plan


def fingerprint(plan: object) -> str:
    """A short fingerprint of a plan (JSON-able): sent with the office's confirm button, so
    the real run (rollover, SIS sync) refuses when it would do other than the preview said."""
    text = json.dumps(plan, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass
class ClassMove:
    """What happens to one of this year's classes."""

    group_id: int
    name: str
    archived_as: str
    target: str  # the new class's name, "" when the whole class leaves
    reason: str  # "promote", "exception", "graduates" or "leaves"
    students: list[int] = field(default_factory=list)  # move on into `target`
    leaving: list[int] = field(default_factory=list)  # deactivated
    teachers: list[int] = field(default_factory=list)  # follow into `target`
    tasks: int = 0
    submissions: int = 0
    messages: int = 0
    files: int = 0


@dataclass
class Plan:
    school_id: int
    year_from: str
    year_to: str
    moves: list[ClassMove] = field(default_factory=list)
    new_classes: list[tuple[str, int | None]] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # classes without a grade: unchanged
    deactivated: list[tuple[int, str]] = field(default_factory=list)  # (user id, reason)
    problems: list[str] = field(default_factory=list)
    names: dict[int, str] = field(default_factory=dict)  # user id → name, for pages

    def as_dict(self) -> dict:
        """Everything the plan says (without display names): equal plans, equal rollovers."""
        found = asdict(self)
        found.pop("names")
        return found

    def digest(self) -> str:
        return fingerprint(self.as_dict())

    @property
    def archived_counts(self) -> dict[str, int]:
        return {
            kind: sum(getattr(move, kind) for move in self.moves)
            for kind in ("tasks", "submissions", "messages", "files")
        }

    def students_moving(self) -> int:
        return sum(len(move.students) for move in self.moves)


def _target_of(group: Group, rule: RolloverRule, exception: ClassException | None):
    """(target name, reason) for a class; (None, "") when it has no grade to follow."""
    if exception is not None:
        if exception.action == ClassException.Action.LEAVE:
            return "", "leaves"
        return exception.target, "exception"
    match = _GRADE_AND_SUFFIX.match(group.name.strip())
    grade = group.grade if group.grade is not None else (int(match.group(1)) if match else None)
    if grade is None:
        return None, ""
    if grade >= rule.final_grade:
        return "", "graduates"
    if not match:
        return None, ""
    return f"{int(match.group(1)) + 1}{match.group(2)}", "promote"


def _counts(school_id: int, group_ids: list[int]) -> dict[str, dict[int, int]]:
    """What each class's archive holds: tasks, submissions, messages, files (4 queries)."""
    tasks = dict(
        Task.groups.through.objects.filter(group_id__in=group_ids)
        .values("group_id")
        .annotate(n=Count("task_id"))
        .values_list("group_id", "n")
    )
    submissions = dict(
        Submission.objects.for_school(school_id)
        .filter(task__groups__in=group_ids)
        .values("task__groups")
        .annotate(n=Count("pk", distinct=True))
        .values_list("task__groups", "n")
    )
    messages = dict(
        Message.objects.for_school(school_id)
        .filter(room__group_id__in=group_ids, deleted_at__isnull=True)
        .values("room__group_id")
        .annotate(n=Count("pk"))
        .values_list("room__group_id", "n")
    )
    files = dict(
        Node.objects.for_school(school_id)
        .filter(space__group_id__in=group_ids, is_folder=False, deleted_at__isnull=True)
        .values("space__group_id")
        .annotate(n=Count("pk"))
        .values_list("space__group_id", "n")
    )
    return {"tasks": tasks, "submissions": submissions, "messages": messages, "files": files}


def plan_rollover(school: School) -> Plan:
    """What the rollover would do now (reads only; a fixed number of queries)."""
    year = current_year(school)
    plan = Plan(school.pk, year.label if year else "", next_label(year.label) if year else "")
    if year is None:
        plan.problems.append(_("The school has no current school year: enter it first."))
        return plan
    rule = rule_for(school)
    classes = list(
        Group.objects.for_school(school)
        .filter(kind=Group.Kind.CLASS, is_active=True, archived_year="")
        .order_by("grade", "name")
    )
    exceptions = {e.group_id: e for e in ClassException.objects.for_school(school)}
    leavers = set(Leaver.objects.for_school(school).values_list("user_id", flat=True))
    people: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for group_id, user_id, role, first, last, active in (
        Membership.objects.for_school(school)
        .filter(group__in=classes)
        .order_by("user__last_name", "user__first_name", "user_id")
        .values_list(
            "group_id",
            "user_id",
            "role",
            "user__first_name",
            "user__last_name",
            "user__is_active",
        )
    ):
        if active:
            people[group_id].append((user_id, role))
            plan.names[user_id] = f"{first} {last}".strip()
    counts = _counts(school.pk, [group.pk for group in classes])
    targets: dict[str, int | None] = {}
    leaving: dict[int, str] = {}
    rolled = set()
    for group in classes:
        target, reason = _target_of(group, rule, exceptions.get(group.pk))
        if target is None:
            plan.kept.append(group.name)
            continue
        rolled.add(group.name.lower())
        move = ClassMove(
            group.pk,
            group.name,
            f"{group.name} ({year.label})",
            target,
            reason,
            **{kind: counts[kind].get(group.pk, 0) for kind in counts},
        )
        for user_id, role in people[group.pk]:
            if role == Membership.Role.TEACHER:
                if target and rule.teachers_follow:
                    move.teachers.append(user_id)
            elif not target or user_id in leavers:
                move.leaving.append(user_id)
                leaving.setdefault(user_id, "leaver" if user_id in leavers else reason)
            else:
                move.students.append(user_id)
        if target:
            targets.setdefault(target, None)
            if reason == "promote":
                targets[target] = (group.grade or 0) + 1 if group.grade is not None else None
        plan.moves.append(move)
    # A student in two classes moving on stays active; one leaving in any class leaves.
    for move in plan.moves:
        move.students = [uid for uid in move.students if uid not in leaving]
    # Leavers marked outside any class that moves (e.g. in a class kept as it is).
    for user_id, first, last in (
        User.objects.for_school(school)
        .filter(pk__in=leavers - set(leaving), is_active=True, role=User.Role.STUDENT)
        .values_list("pk", "first_name", "last_name")
    ):
        leaving[user_id] = "leaver"
        plan.names[user_id] = f"{first} {last}".strip()
    plan.deactivated = sorted(leaving.items())
    taken = {
        name.lower()
        for name in Group.objects.for_school(school)
        .filter(archived_year="")
        .values_list("name", flat=True)
    } - rolled
    for target, grade in targets.items():
        if not target.strip():
            plan.problems.append(_("A class exception names no new class."))
        elif target.lower() in taken:
            plan.problems.append(
                _("The new class “%(name)s” clashes with an existing class or group.")
                % {"name": target}
            )
        plan.new_classes.append(
            (target, grade if grade is not None else school_services.grade_from_name(target))
        )
    plan.new_classes.sort(key=lambda item: (item[1] or 0, item[0]))
    return plan


# --------------------------------------------------------------------------- the rollover


def rollover(
    actor: User | None,
    school: School,
    *,
    dry_run: bool,
    as_operator: bool = False,
    expected: str = "",
    progress: Callable[[int], object] = lambda done: None,
) -> Plan:
    """Plan and, unless `dry_run`, apply the rollover in one transaction; returns the plan
    (a dry run returns what the real run would do at this moment). RolloverRefused when
    the plan has problems or, given the `expected` digest of a dry run, differs from it
    (nothing is written then)."""
    if not as_operator:
        require_admin(actor, school)
    with transaction.atomic():
        # One rollover at a time, and nobody changes the school's classes meanwhile.
        School.objects.select_for_update().filter(pk=school.pk).first()
        plan = plan_rollover(school)
        if plan.problems:
            raise RolloverRefused(" ".join(plan.problems))
        if expected and plan.digest() != expected:
            raise RolloverRefused(
                _("Classes or people changed since the dry run. Check the new preview.")
            )
        if not dry_run:
            _apply(actor, school, plan, progress)
    return plan


def steps(plan: Plan) -> int:
    """How many progress steps the real run reports (for the command's progress bar)."""
    return len(plan.moves) + len(plan.new_classes) + 2


def _apply(actor: User | None, school: School, plan: Plan, progress) -> None:
    year = current_year(school)
    if year is None:  # plan_rollover refuses a school without one
        raise PermissionDenied
    # 1. This year's classes become archives, freeing their names for the new classes.
    archived = list(
        Group.objects.for_school(school).filter(pk__in=[m.group_id for m in plan.moves])
    )
    by_id = {group.pk: group for group in archived}
    for move in plan.moves:
        group = by_id[move.group_id]
        group.name, group.archived_year, group.is_active = move.archived_as, year.label, False
    Group.objects.for_school(school).bulk_update(archived, ["name", "archived_year", "is_active"])
    audit.record_many(school, actor, "schoolyear.class_archived", archived, year=year.label)
    for move in plan.moves:
        school_events.group_changed.publish(
            school_id=school.pk,
            group_id=move.group_id,
            changes={"name": [move.name, move.archived_as]},
        )
        school_events.group_active_changed.publish(
            school_id=school.pk, group_id=move.group_id, active=False
        )
        progress(1)
    ClassException.objects.for_school(school).filter(group__in=archived).delete()

    # 2. The new classes, with the students and teachers who move into them.
    created = Group.unscoped.bulk_create(
        Group(school=school, name=name, kind=Group.Kind.CLASS, grade=grade)
        for name, grade in plan.new_classes
    )
    audit.record_many(school, actor, "group.created", created, via="rollover")
    new_by_name = {group.name: group for group in created}
    users = {
        user.pk: user
        for user in User.objects.for_school(school).filter(
            pk__in={uid for move in plan.moves for uid in move.students + move.teachers}
        )
    }
    add: dict[tuple[int, int], tuple[Group, User]] = {}
    for move in plan.moves:
        if move.target:
            group = new_by_name[move.target]
            for uid in move.students + move.teachers:
                add.setdefault((group.pk, uid), (group, users[uid]))
    for group in created:
        school_events.group_created.publish(school_id=school.pk, group_id=group.pk)
        progress(1)
    school_services.apply_membership_changes(school, actor, add=list(add.values()))

    # 3. Graduates and leavers: deactivated, never deleted (their data follows the
    # retention rules); until then they sign in read-only to their archive and data.
    gone = [uid for uid, _reason in plan.deactivated]
    accounts = list(User.objects.for_school(school).filter(pk__in=gone))
    User.objects.for_school(school).filter(pk__in=gone).update(is_active=False, left_school=True)
    audit.record_many(school, actor, "account.deactivated", accounts, via="rollover")
    for uid in gone:
        account_events.user_active_changed.publish(user_id=uid, active=False)
    Leaver.objects.for_school(school).filter(user_id__in=gone).delete()
    progress(1)

    # 4. The next year is the current one.
    year.is_current = False
    year.save(update_fields=["is_current"])
    SchoolYear.objects.for_school(school).create(
        label=plan.year_to,
        starts_on=_one_year_later(year.starts_on),
        ends_on=_one_year_later(year.ends_on),
        is_current=True,
    )
    audit.record(
        school,
        actor,
        "schoolyear.rollover",
        year,
        to=plan.year_to,
        classes=len(plan.moves),
        new_classes=len(plan.new_classes),
        students=plan.students_moving(),
        deactivated=len(gone),
    )
    School.objects.filter(pk=school.pk).update(has_archives=True)
    progress(1)


def _one_year_later(day: date) -> date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year + 1, day=28)
