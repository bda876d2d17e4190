"""Demo video lessons: a morning wave of grade 7 with staggered join windows, more lessons
through the day, and two around the time of seeding for the sample student's class, taught
by the sample teacher (so the logins `make run` prints show a "Join" button)."""

from __future__ import annotations

import random
from datetime import timedelta

from django.utils import timezone

from kreide.accounts.models import User
from kreide.schools.demo import demo_logins
from kreide.schools.models import Group, Membership, School
from kreide.video.models import VideoLesson


def seed(school: School, rng: random.Random) -> None:
    today = timezone.localtime().replace(hour=8, minute=0, second=0, microsecond=0)
    teachers = dict(
        Membership.objects.for_school(school)
        .filter(role=Membership.Role.TEACHER)
        .values_list("group_id", "user_id")
    )
    plan = [
        ("7a", "Mathematik", 0, 0),
        ("7b", "Deutsch", 0, 2),
        ("7c", "Englisch", 0, 4),
        ("9a", "Biologie", 95, 0),
        ("12a", "Physik", 290, 0),
        ("Mathe LK 12", "Analysis", 380, 0),
    ]
    groups = {
        g.name: g
        for g in Group.objects.for_school(school).filter(name__in=[name for name, *_ in plan])
    }
    lessons = []
    for name, subject, offset, stagger in plan:
        group = groups.get(name)
        if group is None or group.pk not in teachers:
            continue
        starts = today + timedelta(minutes=offset)
        lessons.append(
            VideoLesson(
                school=school,
                group=group,
                teacher_id=teachers[group.pk],
                title=f"{subject} {name}",
                starts_at=starts,
                ends_at=starts + timedelta(minutes=45),
                join_opens_at=starts + timedelta(minutes=stagger),
                classroom_mode=rng.random() < 0.9,
            )
        )
    logins = demo_logins(school)
    teacher = own_class = None
    if logins is not None:
        teacher = User.objects.for_school(school).filter(username=logins.teacher).first()
        own_class = (
            Membership.objects.for_school(school)
            .filter(user__username=logins.student, group__kind=Group.Kind.CLASS)
            .values_list("group_id", flat=True)
            .first()
        )
    if teacher is not None and own_class is not None:
        now = timezone.now().replace(second=0, microsecond=0)
        for title, starts in (
            ("Videosprechstunde", now - timedelta(minutes=5)),
            ("Wiederholung vor der Arbeit", now + timedelta(hours=1)),
        ):
            lessons.append(
                VideoLesson(
                    school=school,
                    group_id=own_class,
                    teacher=teacher,
                    title=title,
                    starts_at=starts,
                    ends_at=starts + timedelta(minutes=45),
                    join_opens_at=starts,
                )
            )
    VideoLesson.unscoped.bulk_create(lessons)
