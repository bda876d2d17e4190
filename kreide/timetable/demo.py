"""The demo school's timetable: a full week for its 48 classes, and changes for today and
the next school day, with no teacher or room booked twice."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from kreide.accounts.models import User
from kreide.schools.models import Group, Membership, School, Subject
from kreide.timetable import calendars
from kreide.timetable.models import Event, Lesson, Period, Room, Substitution, TeacherCode
from kreide.timetable.services import DEFAULT_BELL_TIMES

# Weekly periods per subject: grades 5–10 (30 a week), 11–13 (32 a week).
LOWER = {"De": 4, "Ma": 4, "En": 4, "Fr": 3, "Bio": 2, "Ph": 2, "Ch": 1, "Ge": 2, "Ek": 1,
         "Po": 1, "Re": 2, "Ku": 1, "Mu": 1, "Sp": 2}  # fmt: skip
UPPER = {"De": 4, "Ma": 4, "En": 3, "Fr": 3, "Bio": 3, "Ph": 3, "Ch": 2, "Ge": 2, "Po": 2,
         "Re": 2, "Ku": 1, "Sp": 2, "If": 1}  # fmt: skip
SPECIAL_ROOMS = {"Sp": ["TH1", "TH2", "TH3", "TH4", "TH5", "TH6"], "Ph": ["PH1", "PH2"],
                 "Ch": ["CH1", "CH2"], "Bio": ["BI1", "BI2"], "Mu": ["MU1", "MU2"],
                 "Ku": ["KU1", "KU2"], "If": ["IF1"]}  # fmt: skip


def _slots(grade: int | None) -> list[tuple[int, int]]:
    periods = [(day, period) for day in range(1, 6) for period in range(1, 7)]
    if grade and grade >= 11:
        periods += [(2, 7), (4, 7)]
    return periods


def seed(school: School, rng: random.Random) -> None:
    Period.unscoped.bulk_create(
        Period(school=school, number=number, starts_at=starts, ends_at=ends)
        for number, starts, ends in DEFAULT_BELL_TIMES
    )
    classes = list(Group.objects.for_school(school).filter(kind=Group.Kind.CLASS))
    teachers = list(User.objects.for_school(school).filter(role=User.Role.TEACHER))
    subjects = {s.short_name: s for s in Subject.objects.for_school(school)}
    teaches: dict[str, list[int]] = defaultdict(list)
    for user_id, short in User.teaching_subjects.through.objects.filter(
        user__school=school
    ).values_list("user_id", "subject__short_name"):
        teaches[short].append(user_id)
    class_teachers: dict[int, set[int]] = defaultdict(set)
    for group_id, user_id in (
        Membership.objects.for_school(school)
        .filter(role=Membership.Role.TEACHER)
        .values_list("group_id", "user_id")
    ):
        class_teachers[group_id].add(user_id)

    rooms = {}
    for number, group in enumerate(classes):
        code = f"{'ABC'[number // 16]}{101 + number % 16}"
        rooms[group.pk] = code
    special = [code for codes in SPECIAL_ROOMS.values() for code in codes]
    room_objects = {
        room.code: room
        for room in Room.unscoped.bulk_create(
            Room(school=school, code=code, name="Turnhalle" if code.startswith("TH") else "")
            for code in list(rooms.values()) + special
        )
    }
    codes, taken = [], set()
    for teacher in teachers:
        base = (teacher.last_name[:3] or teacher.username[:3]).upper()
        code, n = base, 2
        while code in taken:
            code, n = f"{base}{n}", n + 1
        taken.add(code)
        codes.append(TeacherCode(school=school, code=code, user=teacher))
    TeacherCode.unscoped.bulk_create(codes)

    busy_teacher: set[tuple[int, int, int]] = set()
    busy_room: set[tuple[str, int, int]] = set()
    load: dict[int, int] = defaultdict(int)
    lessons = []
    for group in classes:
        curriculum = UPPER if (group.grade or 0) >= 11 else LOWER
        teacher_of = {}
        for short in curriculum:
            pool = teaches.get(short) or [t.pk for t in teachers]
            own = [pk for pk in pool if pk in class_teachers[group.pk]]
            teacher_of[short] = min(own or pool, key=lambda pk: (load[pk], pk))
            load[teacher_of[short]] += curriculum[short]
        hours = [short for short, count in curriculum.items() for _ in range(count)]
        rng.shuffle(hours)
        for day, period in _slots(group.grade):
            if not hours:
                break
            pick = next(
                (s for s in hours if (teacher_of[s], day, period) not in busy_teacher), None
            )
            if pick is None:
                continue  # a free period for this class
            hours.remove(pick)
            teacher = teacher_of[pick]
            busy_teacher.add((teacher, day, period))
            room = next(
                (
                    code
                    for code in SPECIAL_ROOMS.get(pick, [])
                    if (code, day, period) not in busy_room
                ),
                rooms[group.pk],
            )
            busy_room.add((room, day, period))
            lessons.append(
                Lesson(
                    school=school,
                    weekday=day,
                    period=period,
                    group=group,
                    subject=subjects.get(pick),
                    teacher_id=teacher,
                    room=room_objects[room],
                )
            )
    Lesson.unscoped.bulk_create(lessons, batch_size=2000)

    Event.unscoped.bulk_create(_dates(school, lessons, rng))
    free = calendars.free_days(school.pk)
    today = calendars.school_day_on_or_after(timezone.localdate(), free)
    for day in (today, calendars.next_school_day(today, free)):
        Substitution.unscoped.bulk_create(
            _changes(school, day, lessons, busy_teacher, room_objects, rng)
        )


def _dates(school: School, lessons: list[Lesson], rng: random.Random) -> list[Event]:
    """A parents' evening, a sports day and class tests in the lessons of the next weeks."""
    today = timezone.localdate()

    def at(day: date, hour: int, minute: int = 0):
        return timezone.make_aware(datetime.combine(day, time(hour, minute)))

    monday = today - timedelta(days=today.weekday())
    events = [
        Event(school=school, audience=Event.Audience.SCHOOL, title="Elternsprechtag",
              location="Aula", starts_at=at(monday + timedelta(days=10), 16),
              ends_at=at(monday + timedelta(days=10), 19)),
        Event(school=school, audience=Event.Audience.SCHOOL, title="Sporttag", all_day=True,
              starts_at=at(monday + timedelta(days=18), 0),
              ends_at=at(monday + timedelta(days=19), 0)),
    ]  # fmt: skip
    bell = {number: (starts, ends) for number, starts, ends in DEFAULT_BELL_TIMES}
    written: set[int] = set()
    for lesson in rng.sample(lessons, 60):
        if lesson.group_id in written or lesson.subject is None:
            continue
        written.add(lesson.group_id)
        week = rng.choice([0, 7, 14])
        day = monday + timedelta(days=week + lesson.weekday - 1)
        starts, ends = bell[lesson.period]
        events.append(
            Event(
                school=school,
                audience=Event.Audience.GROUP,
                kind=Event.Kind.TEST,
                group=lesson.group,
                title=lesson.subject.name,
                created_by_id=lesson.teacher_id,
                starts_at=at(day, starts.hour, starts.minute),
                ends_at=at(day, ends.hour, ends.minute),
            )
        )
    return events


def _changes(school, day: date, lessons, busy_teacher, rooms, rng) -> list[Substitution]:
    """Three teachers are ill: half their lessons are covered, half cancelled; a few
    classes change rooms."""
    weekday = day.isoweekday()
    of_day = [lesson for lesson in lessons if lesson.weekday == weekday]
    absent = set(rng.sample(sorted({lesson.teacher_id for lesson in of_day}), 3))
    all_teachers = sorted({lesson.teacher_id for lesson in lessons})
    changes = []
    for lesson in of_day:
        if lesson.teacher_id in absent:
            free = [
                pk
                for pk in all_teachers
                if pk not in absent and (pk, weekday, lesson.period) not in busy_teacher
            ]
            if free and rng.random() < 0.5:
                changes.append(
                    _change(
                        school,
                        day,
                        lesson,
                        Substitution.Kind.SUBSTITUTION,
                        teacher_id=rng.choice(free),
                    )
                )
            else:
                changes.append(
                    _change(
                        school,
                        day,
                        lesson,
                        Substitution.Kind.CANCELLED,
                        note="Aufgaben über Kreide",
                    )
                )
    for lesson in rng.sample([lesson for lesson in of_day if lesson.teacher_id not in absent], 6):
        changes.append(
            _change(
                school,
                day,
                lesson,
                Substitution.Kind.ROOM_CHANGE,
                teacher_id=lesson.teacher_id,
                room=rooms["C116"] if lesson.room.code != "C116" else rooms["C115"],
                original_room=lesson.room,
            )
        )
    return changes


def _change(school, day, lesson, kind, **fields) -> Substitution:
    fields.setdefault("room", lesson.room if kind != Substitution.Kind.CANCELLED else None)
    return Substitution(
        school=school,
        day=day,
        period=lesson.period,
        group=lesson.group,
        kind=kind,
        subject=lesson.subject,
        absent_teacher_id=lesson.teacher_id if kind != Substitution.Kind.ROOM_CHANGE else None,
        **fields,
    )
