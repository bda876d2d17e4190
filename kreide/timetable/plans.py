"""Reading the timetable for pages: a day or week of one class, teacher or room, with the
day's substitutions applied, and the school's substitution plan.

This is the hottest read of the morning, so everything comes from fragments cached per
class, teacher or room (and day, for substitutions), renewed when an import changes them:
a page costs a fixed number of cache round trips and, on a miss, one query per kind of
target, whatever the number of classes a person is in.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, time
from typing import Any

from django.db.models import Q

from kreide.core import fragments
from kreide.timetable.models import Lesson, Period, Substitution
from kreide.timetable.services import (
    DEFAULT_BELL_TIMES,
    natural_order,
    substitutions_scope,
    timetable_scope,
)

CACHE_SECONDS = 6 * 3600
GROUP, TEACHER, ROOM = "group", "teacher", "room"
Target = tuple[str, int]  # (GROUP, group id), (TEACHER, user id), (ROOM, room id)

_LESSON_FIELDS = {
    "weekday": "weekday",
    "period": "period",
    "group_id": "group_id",
    "group": "group__name",
    "subject": "subject__short_name",
    "subject_name": "subject__name",
    "teacher_id": "teacher_id",
    "teacher": "teacher__last_name",
    "room_id": "room_id",
    "room": "room__code",
}
_SUBSTITUTION_FIELDS = {
    "day": "day",
    "period": "period",
    "group_id": "group_id",
    "group": "group__name",
    "kind": "kind",
    "subject": "subject__short_name",
    "teacher_id": "teacher_id",
    "teacher": "teacher__last_name",
    "absent_teacher_id": "absent_teacher_id",
    "absent_teacher": "absent_teacher__last_name",
    "room_id": "room_id",
    "room": "room__code",
    "original_room_id": "original_room_id",
    "original_room": "original_room__code",
    "note": "note",
}
# Which columns tie a row to a target of each kind.
_LESSON_OWNERS = {GROUP: ("group_id",), TEACHER: ("teacher_id",), ROOM: ("room_id",)}
_SUBSTITUTION_OWNERS = {
    GROUP: ("group_id",),
    TEACHER: ("teacher_id", "absent_teacher_id"),
    ROOM: ("room_id", "original_room_id"),
}


def _rows(queryset, fields: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {
            # Names read better empty than None in templates; ids stay None.
            name: "" if value is None and not name.endswith("_id") else value
            for name, value in zip(fields, row, strict=True)
        }
        for row in queryset.values_list(*fields.values())
    ]


def _owned(rows: list[dict], owners: dict[str, tuple[str, ...]], targets: list[Target]):
    """Sort rows to the targets they belong to (a row can belong to several)."""
    wanted = set(targets)
    found: dict[Target, list[dict]] = defaultdict(list)
    for row in rows:
        for kind, columns in owners.items():
            for column in columns:
                if (kind, row[column]) in wanted:
                    found[(kind, row[column])].append(row)
    return found


def _filter(owners: dict[str, tuple[str, ...]], targets: list[Target]) -> Q:
    condition = Q(pk__in=[])
    for kind, columns in owners.items():
        ids = [pk for target_kind, pk in targets if target_kind == kind]
        for column in columns if ids else ():
            condition |= Q(**{f"{column}__in": ids})
    return condition


def periods(school_id: int) -> dict[int, tuple[time, time]]:
    """The school's bell times; a school that set none has the usual German ones."""

    def load() -> dict[int, tuple[time, time]]:
        rows = Period.objects.for_school(school_id).values_list("number", "starts_at", "ends_at")
        return {number: (starts, ends) for number, starts, ends in rows or DEFAULT_BELL_TIMES}

    return fragments.cached(
        f"timetable:periods:{school_id}", [timetable_scope(school_id)], load, CACHE_SECONDS
    )


def lessons(school_id: int, targets: list[Target]) -> dict[Target, list[dict]]:
    """The regular week of each target."""
    names = {f"timetable:lessons:{kind}:{pk}": (kind, pk) for kind, pk in targets}

    def load(missing: list[str]) -> dict[str, list[dict]]:
        wanted = [names[name] for name in missing]
        rows = _rows(
            Lesson.objects.for_school(school_id)
            .filter(_filter(_LESSON_OWNERS, wanted))
            .order_by("weekday", "period", "group__name"),
            _LESSON_FIELDS,
        )
        owned = _owned(rows, _LESSON_OWNERS, wanted)
        return {name: owned.get(names[name], []) for name in missing}

    found = fragments.cached_many(
        {name: [timetable_scope(school_id)] for name in names}, load, CACHE_SECONDS
    )
    return {target: found[name] for name, target in names.items()}


def substitutions(
    school_id: int, targets: list[Target], days: list[date]
) -> dict[tuple[Target, date], list[dict]]:
    """The changes of each target on each of `days`."""
    names = _substitution_names(targets, days)

    def load(missing: list[str]) -> dict[str, list[dict]]:
        wanted = sorted({names[name][0] for name in missing})
        wanted_days = sorted({names[name][1] for name in missing})
        rows = _rows(
            Substitution.objects.for_school(school_id)
            .filter(_filter(_SUBSTITUTION_OWNERS, wanted), day__in=wanted_days)
            .order_by("day", "period", "group__name"),
            _SUBSTITUTION_FIELDS,
        )
        by_day: dict[date, list[dict]] = defaultdict(list)
        for row in rows:
            by_day[row["day"]].append(row)
        owned = {
            day: _owned(rows_of_day, _SUBSTITUTION_OWNERS, wanted)
            for day, rows_of_day in by_day.items()
        }
        return {name: owned.get(names[name][1], {}).get(names[name][0], []) for name in missing}

    found = fragments.cached_many(
        substitutions_fragments(school_id, targets, days), load, CACHE_SECONDS
    )
    return {key: found[name] for name, key in names.items()}


def _substitution_names(targets: list[Target], days: list[date]) -> dict[str, tuple[Target, date]]:
    return {
        f"timetable:subs:{kind}:{pk}:{day.isoformat()}": ((kind, pk), day)
        for kind, pk in targets
        for day in days
    }


def substitutions_fragments(
    school_id: int, targets: list[Target], days: list[date]
) -> dict[str, list[str]]:
    """The fragments (name → scopes) substitutions(school_id, targets, days) reads."""
    return {name: [substitutions_scope(school_id)] for name in _substitution_names(targets, days)}


def school_substitutions(school_id: int, day: date) -> list[dict]:
    """Every change of the school on `day`, ordered by class and period (the whole plan)."""

    def load() -> list[dict]:
        rows = _rows(
            Substitution.objects.for_school(school_id).filter(day=day),
            _SUBSTITUTION_FIELDS,
        )
        return sorted(rows, key=lambda row: (natural_order(row["group"]), row["period"]))

    return fragments.cached(
        f"timetable:subs:school:{school_id}:{day.isoformat()}",
        [substitutions_scope(school_id)],
        load,
        CACHE_SECONDS,
    )


# --------------------------------------------------------------------------- day building


@dataclass
class Entry:
    """What happens in one period for the viewer: the lesson, and what changed about it."""

    group: str
    subject: str
    teacher: str
    room: str
    kind: str = ""  # a Substitution.Kind when changed
    note: str = ""
    old_subject: str = ""
    old_teacher: str = ""
    old_room: str = ""
    period: int = 0
    group_id: int | None = None
    teacher_id: int | None = None  # who teaches it now

    @property
    def kind_label(self) -> str:
        return Substitution.Kind(self.kind).label if self.kind else ""

    @property
    def cancelled(self) -> bool:
        return self.kind == Substitution.Kind.CANCELLED


@dataclass
class Slot:
    period: int
    starts_at: time | None
    ends_at: time | None
    entries: list[Entry] = field(default_factory=list)

    @property
    def minutes(self) -> int | None:
        if self.starts_at is None or self.ends_at is None:
            return None
        return (self.ends_at.hour * 60 + self.ends_at.minute) - (
            self.starts_at.hour * 60 + self.starts_at.minute
        )


@dataclass
class Day:
    day: date
    slots: list[Slot]
    changes: int

    @property
    def is_today(self) -> bool:
        from django.utils import timezone

        return self.day == timezone.localdate()


def _changed(lesson: dict | None, change: dict) -> Entry:
    if lesson is None:
        return Entry(
            change["group"],
            change["subject"],
            change["teacher"],
            change["room"],
            change["kind"],
            change["note"],
            old_teacher=change["absent_teacher"],
            old_room=change["original_room"],
            period=change["period"],
            group_id=change["group_id"],
            teacher_id=change["teacher_id"],
        )
    subject = change["subject"] or lesson["subject"]
    teacher = change["teacher"] or ("" if change["absent_teacher"] else lesson["teacher"])
    room = change["room"] or lesson["room"]
    return Entry(
        lesson["group"],
        subject,
        teacher,
        room,
        change["kind"],
        change["note"],
        old_subject=lesson["subject"] if subject != lesson["subject"] else "",
        old_teacher=lesson["teacher"] if teacher != lesson["teacher"] else "",
        old_room=lesson["room"] if room != lesson["room"] else "",
        period=change["period"],
        group_id=lesson["group_id"],
        teacher_id=change["teacher_id"]
        or (None if change["absent_teacher_id"] else lesson["teacher_id"]),
    )


def change_entry(change: dict) -> Entry:
    """A substitution on its own, as the dashboard and the plans list it."""
    return _changed(None, change)


def build_day(
    day: date, week: list[dict], changes: list[dict], bell: dict[int, tuple[time, time]]
) -> Day:
    """One day of a target: its lessons of that weekday with the day's changes applied."""
    by_period: dict[int, list[Entry]] = defaultdict(list)
    lessons_of_day = [lesson for lesson in week if lesson["weekday"] == day.isoweekday()]
    unused = list(changes)
    for lesson in lessons_of_day:
        change = next(
            (
                c
                for c in unused
                if c["period"] == lesson["period"] and c["group_id"] == lesson["group_id"]
            ),
            None,
        )
        if change is not None:
            unused.remove(change)
            by_period[lesson["period"]].append(_changed(lesson, change))
        else:
            by_period[lesson["period"]].append(
                Entry(
                    lesson["group"],
                    lesson["subject"],
                    lesson["teacher"],
                    lesson["room"],
                    period=lesson["period"],
                    group_id=lesson["group_id"],
                    teacher_id=lesson["teacher_id"],
                )
            )
    for change in unused:  # extra lessons, or lessons moved here
        by_period[change["period"]].append(_changed(None, change))
    slots = [
        Slot(period, *bell.get(period, (None, None)), by_period[period])
        for period in sorted(by_period)
    ]
    return Day(day, slots, len(changes))


def targets_of(user, group_ids: list[int] | None = None) -> list[Target]:
    """Whose timetable is a person's: a teacher's (or admin's) own lessons; a student's
    classes and groups (`group_ids` when the caller has them, else one query)."""
    from kreide.accounts.models import User
    from kreide.schools import access

    if user.role in (User.Role.TEACHER, User.Role.SCHOOL_ADMIN):
        return [(TEACHER, user.pk)]
    if group_ids is None:
        group_ids = list(access.group_ids(user, access.MEMBER).values_list("group_id", flat=True))
    return [(GROUP, pk) for pk in group_ids]


def days_of(school_id: int, targets: list[Target], days: list[date]) -> list[Day]:
    """The given days of the union of `targets` (a student's classes, a teacher)."""
    bell = periods(school_id)
    week = lessons(school_id, targets)
    changes = substitutions(school_id, targets, days)
    result = []
    for day in days:
        day_lessons: list[dict] = []
        day_changes: list[dict] = []
        for target in targets:
            day_lessons.extend(lesson for lesson in week[target] if lesson not in day_lessons)
            day_changes.extend(c for c in changes[(target, day)] if c not in day_changes)
        result.append(build_day(day, day_lessons, day_changes, bell))
    return result


def first_lessons(school_id: int, day: date) -> dict[int, time]:
    """When each class's lessons begin on `day`: its first period not cancelled that day
    (classes without lessons that day are left out). Two queries, whatever the size."""
    bell = periods(school_id)
    weekday_lessons = (
        Lesson.objects.for_school(school_id)
        .filter(weekday=day.isoweekday())
        .values_list("group_id", "period")
    )
    cancelled = set(
        Substitution.objects.for_school(school_id)
        .filter(day=day, kind=Substitution.Kind.CANCELLED)
        .values_list("group_id", "period")
    )
    first: dict[int, int] = {}
    for group_id, period in weekday_lessons:
        if (group_id, period) not in cancelled and period in bell:
            first[group_id] = min(period, first.get(group_id, period))
    return {group_id: bell[period][0] for group_id, period in first.items()}
