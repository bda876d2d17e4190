"""Writes to the timetable: imports (with their diff), bell times, the info screen link.

An import is planned completely before anything is written: every class and teacher is
resolved (unknown ones are reported with their file and line), the rows are compared with
what is stored, and only then, in one transaction holding the school's row lock, the
difference is applied. Importing the same export twice changes nothing the second time.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, time

from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kreide.accounts.models import User
from kreide.core import audit, fragments
from kreide.schools import access
from kreide.schools.access import is_admin_of
from kreide.schools.models import Group, Membership, School, Subject
from kreide.timetable import events
from kreide.timetable.importing import (
    LessonRow,
    ParsedExport,
    Problem,
    SubstitutionRow,
    TimetableImportError,
)
from kreide.timetable.models import (
    ImportKey,
    Lesson,
    Period,
    Room,
    ScreenLink,
    Substitution,
    TeacherCode,
)


def timetable_scope(school_id: int) -> str:
    return f"school:{school_id}:timetable"


def substitutions_scope(school_id: int) -> str:
    return f"school:{school_id}:substitutions"


def screen_scope(school_id: int) -> str:
    """The info screen's own part: the school's name (School rows feed it, apps.py)."""
    return f"school:{school_id}:screen"


def plan_scopes(row) -> list[str]:
    """Rooms, subjects and group names appear in both the week and the substitutions."""
    return [timetable_scope(row.school_id), substitutions_scope(row.school_id)]


# ---------------------------------------------------------------------------- the report


@dataclass
class Change:
    """One line of the diff as people read it: "Mo 3. 5a Ma Müller R101"."""

    text: str
    group: str
    teachers: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.text


@dataclass
class ImportReport:
    lessons_added: list[Change] = field(default_factory=list)
    lessons_removed: list[Change] = field(default_factory=list)
    substitutions_added: list[Change] = field(default_factory=list)
    substitutions_removed: list[Change] = field(default_factory=list)
    new_subjects: list[str] = field(default_factory=list)
    new_rooms: list[str] = field(default_factory=list)
    new_teacher_codes: list[str] = field(default_factory=list)
    window: tuple[date, date] | None = None
    students_affected: int = 0
    skipped: int = 0
    applied: bool = False

    @property
    def changed(self) -> bool:
        return bool(
            self.lessons_added
            or self.lessons_removed
            or self.substitutions_added
            or self.substitutions_removed
            or self.new_subjects
            or self.new_rooms
            or self.new_teacher_codes
        )

    @property
    def classes_affected(self) -> list[str]:
        changes = (
            self.lessons_added
            + self.lessons_removed
            + self.substitutions_added
            + self.substitutions_removed
        )
        return sorted({change.group for change in changes}, key=natural_order)

    @property
    def teachers_affected(self) -> list[str]:
        changes = (
            self.lessons_added
            + self.lessons_removed
            + self.substitutions_added
            + self.substitutions_removed
        )
        return sorted({name for change in changes for name in change.teachers if name})

    def summary(self) -> str:
        return _(
            "Timetable: %(la)d lessons added, %(lr)d removed. Substitutions: %(sa)d added, "
            "%(sr)d removed. %(students)d students affected."
        ) % {
            "la": len(self.lessons_added),
            "lr": len(self.lessons_removed),
            "sa": len(self.substitutions_added),
            "sr": len(self.substitutions_removed),
            "students": self.students_affected,
        }


def natural_order(name: str) -> tuple:
    """'5a' before '10a'."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))


audit.declare(
    {
        "timetable.imported": gettext_lazy("Timetable imported"),
        "timetable.bell_times": gettext_lazy("Bell times changed"),
        "timetable.screen_link_renewed": gettext_lazy("Link of the substitution screen renewed"),
        "timetable.import_key_renewed": gettext_lazy("Timetable import key renewed"),
        "timetable.import_key_revoked": gettext_lazy("Timetable import key turned off"),
    }
)

WEEKDAY_SHORT = ["", "Mo", "Di", "Mi", "Do", "Fr", "Sa", "So"]


# ------------------------------------------------------------------------------ resolving


def _class_key(name: str) -> str:
    """Untis writes "05a" where Kreide has "5a"; case and leading zeros do not count."""
    return re.sub(r"^0+(?=\d)", "", name.strip().lower())


class _Resolver:
    """Names in the export -> Kreide's objects; collects one problem per unknown name."""

    def __init__(self, school: School, parsed: ParsedExport) -> None:
        self.school, self.parsed = school, parsed
        self.groups = {
            _class_key(group.name): group
            for group in Group.objects.for_school(school).filter(is_active=True)
        }
        self.codes = {
            code.code: code.user
            for code in TeacherCode.objects.for_school(school).select_related("user")
        }
        teachers = list(
            User.objects.for_school(school).filter(
                role__in=(User.Role.TEACHER, User.Role.SCHOOL_ADMIN), is_active=True
            )
        )
        self.by_username = {teacher.username.lower(): teacher for teacher in teachers}
        last_names = Counter(teacher.last_name.lower() for teacher in teachers)
        self.by_last_name = {
            teacher.last_name.lower(): teacher
            for teacher in teachers
            if last_names[teacher.last_name.lower()] == 1
        }
        self.subjects = {
            subject.short_name: subject for subject in Subject.objects.for_school(school)
        }
        self.subjects_folded = {code.lower(): subject for code, subject in self.subjects.items()}
        self.rooms = {room.code: room for room in Room.objects.for_school(school)}
        self.new_codes: dict[str, User] = {}
        self.new_subjects: dict[str, str] = {}
        self.new_rooms: dict[str, str] = {}
        self._unknown: dict[tuple[str, str], list[Problem]] = {}

    def _complain(self, kind: str, value: str, row, message: str) -> None:
        self._unknown.setdefault((kind, value), []).append(Problem(row.file, row.line, message))

    def problems(self) -> list[Problem]:
        found = []
        for problems in self._unknown.values():
            first = problems[0]
            more = len(problems) - 1
            message = first.message
            if more:
                message += " " + _("(and %(count)d more lines)") % {"count": more}
            found.append(Problem(first.file, first.line, message))
        return sorted(found, key=lambda problem: (problem.file, problem.line))

    def group(self, row) -> Group | None:
        group = self.groups.get(_class_key(row.group))
        if group is None:
            self._complain(
                "class", row.group, row, _("Unknown class “%(name)s”.") % {"name": row.group}
            )
        return group

    def teacher(self, code: str, row) -> User | None:
        if not code:
            return None
        user = self.codes.get(code) or self.new_codes.get(code)
        if user is None:
            last_name = self.parsed.teacher_names.get(code, "").lower()
            user = self.by_username.get(code.lower()) or self.by_last_name.get(last_name)
            if user is not None:
                self.new_codes[code] = user
        if user is None:
            self._complain(
                "teacher",
                code,
                row,
                _("Unknown teacher “%(code)s”: no account with this user name or last name.")
                % {"code": code},
            )
        return user

    def subject(self, code: str, row) -> str:
        """The subject's abbreviation as Kreide stores it ("" for none); new ones are noted."""
        if not code:
            return ""
        known = self.subjects.get(code) or self.subjects_folded.get(code.lower())
        if known is not None:
            return known.short_name
        if len(code) > 10:
            self._complain(
                "subject",
                code,
                row,
                _("Subject “%(code)s” is longer than 10 characters.") % {"code": code},
            )
            return ""
        self.new_subjects.setdefault(code, self.parsed.subject_names.get(code) or code)
        return code

    def room(self, code: str, row) -> str:
        if not code:
            return ""
        if code not in self.rooms:
            if len(code) > 20:
                self._complain(
                    "room",
                    code,
                    row,
                    _("Room “%(code)s” is longer than 20 characters.") % {"code": code},
                )
                return ""
            self.new_rooms.setdefault(code, self.parsed.room_names.get(code, ""))
        return code


# ------------------------------------------------------------------------------- planning

# A lesson as the diff compares it: (weekday, period, group id, subject, teacher id, room).
LessonKey = tuple[int, int, int, str, int | None, str]
# (day, period, group id, number, kind, subject, teacher id, absent id, room, old room, note)
SubstitutionKey = tuple[date, int, int, str, str, str, int | None, int | None, str, str, str]


@dataclass
class _Plan:
    school: School
    resolver: _Resolver
    lessons_add: list[tuple[LessonKey, str]] = field(default_factory=list)  # + lesson number
    lessons_remove: list[int] = field(default_factory=list)
    substitutions_add: list[SubstitutionKey] = field(default_factory=list)
    substitutions_remove: list[int] = field(default_factory=list)
    report: ImportReport = field(default_factory=ImportReport)


def _diff(wanted: Counter, stored: dict[tuple, list[int]]) -> tuple[list[tuple], list[int]]:
    """What to add (keys) and remove (primary keys) so `stored` holds exactly `wanted`."""
    add: list[tuple] = []
    remove: list[int] = []
    for key in set(wanted) | set(stored):
        have = stored.get(key, [])
        need = wanted.get(key, 0)
        add.extend([key] * max(0, need - len(have)))
        remove.extend(have[need:])
    return add, remove


def _plan(school: School, parsed: ParsedExport, window: tuple[date, date] | None) -> _Plan:
    resolver = _Resolver(school, parsed)
    plan = _Plan(school, resolver)
    users: dict[int, User] = {}
    groups: dict[int, Group] = {}

    lessons: Counter = Counter()
    numbers: dict[LessonKey, str] = {}
    for row in parsed.lessons or []:
        key = _lesson_key(resolver, row, users, groups)
        if key is not None:
            lessons[key] += 1
            numbers.setdefault(key, row.number)
    substitutions: Counter = Counter()
    for row in parsed.substitutions or []:
        key = _substitution_key(resolver, row, users, groups)
        if key is not None:
            substitutions[key] += 1
    problems = parsed.problems + resolver.problems()
    if problems:
        raise TimetableImportError(problems)

    names = _Names(school, users, groups)
    if parsed.lessons is not None:
        stored: dict[tuple, list[int]] = {}
        for row in Lesson.objects.for_school(school).values_list(
            "pk", "weekday", "period", "group_id", "subject__short_name", "teacher_id", "room__code"
        ):
            key = (row[1], row[2], row[3], row[4] or "", row[5], row[6] or "")
            stored.setdefault(key, []).append(row[0])
        add, plan.lessons_remove = _diff(lessons, stored)
        plan.lessons_add = [(key, numbers.get(key, "")) for key in add]
        removed = {pk: key for key, pks in stored.items() for pk in pks}
        plan.report.lessons_added = sorted((names.lesson(key) for key in add), key=_change_order)
        plan.report.lessons_removed = sorted(
            (names.lesson(removed[pk]) for pk in plan.lessons_remove), key=_change_order
        )
    if parsed.substitutions is not None:
        days = sorted({key[0] for key in substitutions})
        window = window or ((days[0], days[-1]) if days else None)
        if window is not None:
            plan.report.window = window
            substitutions = Counter(
                {key: n for key, n in substitutions.items() if window[0] <= key[0] <= window[1]}
            )
            stored = {}
            for row in (
                Substitution.objects.for_school(school)
                .filter(day__range=window)
                .values_list(
                    "pk",
                    "day",
                    "period",
                    "group_id",
                    "number",
                    "kind",
                    "subject__short_name",
                    "teacher_id",
                    "absent_teacher_id",
                    "room__code",
                    "original_room__code",
                    "note",
                )
            ):
                key = (
                    *row[1:6],
                    row[6] or "",
                    row[7],
                    row[8],
                    row[9] or "",
                    row[10] or "",
                    row[11],
                )
                stored.setdefault(key, []).append(row[0])
            plan.substitutions_add, plan.substitutions_remove = _diff(substitutions, stored)
            removed = {pk: key for key, pks in stored.items() for pk in pks}
            plan.report.substitutions_added = sorted(
                (names.substitution(key) for key in plan.substitutions_add), key=_change_order
            )
            plan.report.substitutions_removed = sorted(
                (names.substitution(removed[pk]) for pk in plan.substitutions_remove),
                key=_change_order,
            )
    report = plan.report
    report.new_subjects = sorted(resolver.new_subjects)
    report.new_rooms = sorted(resolver.new_rooms)
    report.new_teacher_codes = sorted(resolver.new_codes)
    report.skipped = parsed.skipped
    touched = {names.group_ids[change.group] for change in _all_changes(report)}
    if touched:
        report.students_affected = (
            Membership.objects.for_school(school)
            .filter(group_id__in=touched, role=Membership.Role.MEMBER)
            .values("user_id")
            .distinct()
            .count()
        )
    return plan


def _all_changes(report: ImportReport) -> list[Change]:
    return (
        report.lessons_added
        + report.lessons_removed
        + report.substitutions_added
        + report.substitutions_removed
    )


def _change_order(change: Change) -> tuple:
    return (natural_order(change.group), change.text)


def _lesson_key(resolver: _Resolver, row: LessonRow, users: dict, groups: dict) -> LessonKey | None:
    group = resolver.group(row)
    teacher = resolver.teacher(row.teacher, row)
    subject = resolver.subject(row.subject, row)
    room = resolver.room(row.room, row)
    if group is None or (row.teacher and teacher is None):
        return None
    groups[group.pk] = group
    if teacher is not None:
        users[teacher.pk] = teacher
    return (row.weekday, row.period, group.pk, subject, getattr(teacher, "pk", None), room)


def _substitution_key(
    resolver: _Resolver, row: SubstitutionRow, users: dict, groups: dict
) -> SubstitutionKey | None:
    group = resolver.group(row)
    teacher = resolver.teacher(row.teacher, row)
    absent = resolver.teacher(row.absent_teacher, row)
    subject = resolver.subject(row.subject, row)
    room = resolver.room(row.room, row)
    original_room = resolver.room(row.original_room, row)
    if (
        group is None
        or (row.teacher and teacher is None)
        or (row.absent_teacher and absent is None)
    ):
        return None
    groups[group.pk] = group
    for user in (teacher, absent):
        if user is not None:
            users[user.pk] = user
    return (
        row.day,
        row.period,
        group.pk,
        row.number,
        row.kind,
        subject,
        getattr(teacher, "pk", None),
        getattr(absent, "pk", None),
        room,
        original_room,
        row.note,
    )


class _Names:
    """Turns diff keys back into readable lines (stored rows name ids the export may lack)."""

    def __init__(self, school: School, users: dict[int, User], groups: dict[int, Group]) -> None:
        self.school, self.users, self.groups = school, users, groups
        self.group_ids: dict[str, int] = {group.name: pk for pk, group in groups.items()}

    def _group(self, pk: int) -> str:
        if pk not in self.groups:
            self.groups[pk] = Group.objects.for_school(self.school).get(pk=pk)
        self.group_ids[self.groups[pk].name] = pk
        return self.groups[pk].name

    def _user(self, pk: int | None) -> str:
        if pk is None:
            return ""
        if pk not in self.users:
            self.users[pk] = User.objects.for_school(self.school).get(pk=pk)
        return self.users[pk].last_name or self.users[pk].username

    def lesson(self, key: LessonKey) -> Change:
        weekday, period, group_id, subject, teacher_id, room = key
        group, teacher = self._group(group_id), self._user(teacher_id)
        text = f"{WEEKDAY_SHORT[weekday]} {period}. {group} {subject} {teacher} {room}"
        return Change(" ".join(text.split()), group, (teacher,))

    def substitution(self, key: SubstitutionKey) -> Change:
        day, period, group_id, _number, kind, subject, teacher_id, absent_id, room, _old, note = key
        group, teacher, absent = (
            self._group(group_id),
            self._user(teacher_id),
            self._user(absent_id),
        )
        label = Substitution.Kind(kind).label
        text = f"{day:%d.%m.} {period}. {group} {label} {subject} {teacher} {room} {note}"
        return Change(" ".join(text.split()), group, (teacher, absent))


# ------------------------------------------------------------------------------- applying


def import_timetable(
    school: School,
    parsed: ParsedExport,
    *,
    apply: bool = True,
    actor: User | None = None,
    window: tuple[date, date] | None = None,
) -> ImportReport:
    """Compare the export with what is stored and, if `apply`, make it so.

    Raises TimetableImportError (every problem with its file and line) before anything is
    written. `window`: the days the substitution file speaks for (default: its first to
    its last day); stored substitutions in it that the file no longer lists are removed.
    `actor` None means the operator's command line.
    """
    if actor is not None and not is_admin_of(actor, school):
        raise PermissionDenied
    with transaction.atomic():
        if apply:
            # Two imports of the same school (a pushed export and an upload) run one after
            # the other, each planning against what the previous one left.
            School.objects.select_for_update().filter(pk=school.pk).first()
        plan = _plan(school, parsed, window)
        if apply and plan.report.changed:
            _apply(plan, actor)
        plan.report.applied = apply
    return plan.report


def _apply(plan: _Plan, actor: User | None) -> None:
    school, resolver, report = plan.school, plan.resolver, plan.report
    subjects = dict(resolver.subjects)
    for code, name in resolver.new_subjects.items():
        subjects[code] = Subject.objects.for_school(school).create(short_name=code, name=name)
    rooms = dict(resolver.rooms)
    for code, name in resolver.new_rooms.items():
        rooms[code] = Room.objects.for_school(school).create(code=code, name=name)
    TeacherCode.unscoped.bulk_create(
        TeacherCode(school=school, code=code, user=user)
        for code, user in resolver.new_codes.items()
    )
    Lesson.objects.for_school(school).filter(pk__in=plan.lessons_remove).delete()
    lessons = Lesson.unscoped.bulk_create(
        (
            Lesson(
                school=school,
                weekday=weekday,
                period=period,
                group_id=group_id,
                subject=subjects.get(subject),
                teacher_id=teacher_id,
                room=rooms.get(room),
                number=number,
            )
            for (weekday, period, group_id, subject, teacher_id, room), number in plan.lessons_add
        ),
        batch_size=1000,
    )
    Substitution.objects.for_school(school).filter(pk__in=plan.substitutions_remove).delete()
    substitutions = Substitution.unscoped.bulk_create(
        (
            Substitution(
                school=school,
                day=day,
                period=period,
                group_id=group_id,
                number=number,
                kind=kind,
                subject=subjects.get(subject),
                teacher_id=teacher_id,
                absent_teacher_id=absent_id,
                room=rooms.get(room),
                original_room=rooms.get(original_room),
                note=note,
            )
            for (
                day,
                period,
                group_id,
                number,
                kind,
                subject,
                teacher_id,
                absent_id,
                room,
                original_room,
                note,
            ) in plan.substitutions_add
        ),
        batch_size=1000,
    )
    audit.record(
        school,
        actor,
        "timetable.imported",
        lessons_added=len(report.lessons_added),
        lessons_removed=len(report.lessons_removed),
        substitutions_added=len(report.substitutions_added),
        substitutions_removed=len(report.substitutions_removed),
    )
    fragments.rows_changed([*lessons, *substitutions])  # bulk_create sends no signals
    if substitutions:
        events.substitutions_added.publish(
            school_id=school.pk, substitution_ids=[row.pk for row in substitutions]
        )


# ---------------------------------------------------------------------------- bell times

DEFAULT_BELL_TIMES = [
    (1, time(7, 55), time(8, 40)),
    (2, time(8, 45), time(9, 30)),
    (3, time(9, 50), time(10, 35)),
    (4, time(10, 40), time(11, 25)),
    (5, time(11, 40), time(12, 25)),
    (6, time(12, 30), time(13, 15)),
    (7, time(14, 0), time(14, 45)),
    (8, time(14, 50), time(15, 35)),
]


def parse_bell_times(text: str) -> list[tuple[int, time, time]]:
    """One period per line: "1 07:55 08:40" (spaces, semicolons or dashes between)."""
    periods, errors, seen = [], [], set()
    for line_number, line in enumerate(text.splitlines(), 1):
        parts = [part for part in re.split(r"[\s;,–-]+", line.strip().rstrip(".")) if part]
        if not parts:
            continue
        try:
            number = int(parts[0].rstrip("."))
            starts, ends = (time.fromisoformat(value.zfill(5)) for value in parts[1:3])
            if len(parts) != 3 or not 1 <= number <= 24 or starts >= ends or number in seen:
                raise ValueError
        except ValueError:
            errors.append(
                _("Line %(line)d: write the period, its start and end, e.g. “1 07:55 08:40”.")
                % {"line": line_number}
            )
            continue
        seen.add(number)
        periods.append((number, starts, ends))
    if errors:
        raise ValidationError(errors)
    return sorted(periods)


def set_bell_times(actor: User, periods: list[tuple[int, time, time]]) -> None:
    if not is_admin_of(actor, actor.school):
        raise PermissionDenied
    school = actor.school
    with transaction.atomic():
        Period.objects.for_school(school).delete()
        created = Period.unscoped.bulk_create(
            Period(school=school, number=number, starts_at=starts, ends_at=ends)
            for number, starts, ends in periods
        )
        fragments.rows_changed(created)  # bulk_create sends no signals
        audit.record(school, actor, "timetable.bell_times", periods=len(periods))


def conflicts(school: School) -> list[dict]:
    """Double bookings in the regular week: a teacher or room in two classes at once."""
    lessons = Lesson.objects.for_school(school).values_list(
        "weekday",
        "period",
        "teacher_id",
        "teacher__last_name",
        "room_id",
        "room__code",
        "group__name",
    )
    by_slot: dict[tuple, list[str]] = {}
    for weekday, period, teacher_id, teacher, room_id, room, group in lessons:
        if teacher_id:
            by_slot.setdefault((weekday, period, "teacher", teacher_id, teacher), []).append(group)
        if room_id:
            by_slot.setdefault((weekday, period, "room", room_id, room), []).append(group)
    what = {"teacher": _("Teacher"), "room": _("Room")}
    return [
        {
            "weekday": WEEKDAY_SHORT[weekday],
            "period": period,
            "what": what[kind],
            "name": name,
            "groups": sorted(set(groups), key=natural_order),
        }
        for (weekday, period, kind, _pk, name), groups in sorted(by_slot.items())
        if len(set(groups)) > 1
    ]


# ---------------------------------------------------------------------------- info screen


def _screen_key(token: str) -> str:
    return f"timetable:screen:{token}"


def screen_link(school: School) -> ScreenLink:
    link = ScreenLink.objects.for_school(school).first()
    return link or ScreenLink.objects.for_school(school).create()


def renew_screen_link(actor: User) -> ScreenLink:
    """A new secret address for the hallway screen; the old one stops working at once."""
    if not is_admin_of(actor, actor.school):
        raise PermissionDenied
    with transaction.atomic():
        old = ScreenLink.objects.for_school(actor.school).select_for_update().first()
        if old is not None:
            old_key = _screen_key(old.token)
            cache.delete(old_key)
            # Again after commit: a screen may have looked the old token up meanwhile.
            transaction.on_commit(lambda: cache.delete(old_key))
            old.delete()
        link = ScreenLink.objects.for_school(actor.school).create()
        audit.record(actor.school, actor, "timetable.screen_link_renewed")
    return link


def school_for_screen(token: str) -> int | None:
    """The school id behind a screen token, from the cache after the first look-up."""
    if not token or len(token) > 64:
        return None
    key = _screen_key(token)
    school_id = cache.get(key)
    if school_id is None:
        school_id = (
            ScreenLink.unscoped.filter(token=token).values_list("school_id", flat=True).first() or 0
        )
        cache.set(key, school_id, 300)
    return school_id or None


# ---------------------------------------------------------------------------- who sees what


def can_view(user: User, kind: str, school_id: int, member: bool = False) -> bool:
    """Teachers and admins see every class, teacher and room of their school; students
    only the classes and groups they are a `member` of. Another school's objects never
    get this far (a 404 from the scoped look-up)."""
    if not access.participates(user) or user.school_id != school_id:
        return False
    if user.role in (User.Role.TEACHER, User.Role.SCHOOL_ADMIN):
        return True
    return kind == "group" and member


# ------------------------------------------------------------------------- pushed imports


def _key_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def renew_import_key(actor: User) -> str:
    """A new secret for the school's export job; the previous one stops working. The
    secret is returned once and stored only as its hash."""
    if not is_admin_of(actor, actor.school):
        raise PermissionDenied
    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        ImportKey.objects.for_school(actor.school).delete()
        ImportKey.objects.for_school(actor.school).create(
            secret_sha256=_key_hash(secret), created_by=actor
        )
        audit.record(actor.school, actor, "timetable.import_key_renewed")
    return secret


def revoke_import_key(actor: User) -> None:
    if not is_admin_of(actor, actor.school):
        raise PermissionDenied
    with transaction.atomic():
        ImportKey.objects.for_school(actor.school).delete()
        audit.record(actor.school, actor, "timetable.import_key_revoked")


def school_for_import_key(secret: str) -> School | None:
    if not secret or len(secret) > 100:
        return None
    key = (
        ImportKey.unscoped.filter(secret_sha256=_key_hash(secret)).select_related("school").first()
    )
    if key is None:
        return None
    ImportKey.unscoped.filter(pk=key.pk).update(last_used_at=timezone.now())
    return key.school
