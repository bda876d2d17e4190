"""Demo video lessons: a morning wave of grade 7 with staggered join windows, and more."""

from __future__ import annotations

import random
from datetime import timedelta

from django.utils import timezone

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
    VideoLesson.unscoped.bulk_create(lessons)
