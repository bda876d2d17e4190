"""The demo school's news: two for everyone, and a parent letter to the sample student's
class asking for consent, which some parents have confirmed."""

from __future__ import annotations

import random
from datetime import timedelta

from django.utils import timezone

from kreide.accounts.models import User
from kreide.news.models import News, Receipt
from kreide.parents.models import ParentLink
from kreide.schools.demo import demo_logins
from kreide.schools.models import Group, Membership, School


def seed(school: School, rng: random.Random) -> None:
    admin = User.objects.for_school(school).filter(role=User.Role.SCHOOL_ADMIN).order_by("pk")
    admin = admin.first()
    now = timezone.now()
    News.objects.for_school(school).bulk_create(
        [
            News(
                school=school,
                author=admin,
                published_at=now,
                announced_at=now,
                title="Willkommen bei Kreide",
                body="Aufgaben, Dateien, Nachrichten und Videostunden an einem Ort.",
            ),
            News(
                school=school,
                author=admin,
                published_at=now - timedelta(days=2),
                announced_at=now - timedelta(days=2),
                title="Gestaffelter Unterrichtsbeginn",
                body=(
                    "Jahrgänge 5–6 starten um 7:50 Uhr, 7–8 um 8:00 Uhr, alle anderen um 8:10 Uhr."
                ),
            ),
        ]
    )
    logins = demo_logins(school)
    if logins is None:
        return
    group = Group.objects.for_school(school).get(name=logins.class_name)
    teacher = User.objects.for_school(school).get(username=logins.teacher)
    letter = News.objects.for_school(school).create(
        author=teacher,
        audience=News.Audience.PARENTS,
        published_at=now - timedelta(days=1),
        announced_at=now - timedelta(days=1),
        title="Wandertag am Freitag",
        body="Wir wandern zum Wildpark. Bitte geben Sie Ihrem Kind ein Lunchpaket mit.",
        needs_confirmation=True,
        reply_choices="Ja, mein Kind nimmt teil\nNein, mein Kind nimmt nicht teil",
    )
    letter.groups.add(group)
    children = list(
        Membership.objects.for_school(school)
        .filter(group=group, role=Membership.Role.MEMBER)
        .exclude(user__username=logins.student)  # the sample parent has it still to do
        .values_list("user_id", flat=True)
    )
    parents = dict(
        ParentLink.objects.for_school(school)
        .filter(child_id__in=children)
        .values_list("child_id", "parent_id")
    )
    choices = letter.choices
    Receipt.objects.for_school(school).bulk_create(
        Receipt(
            school=school,
            news=letter,
            child_id=child,
            parent_id=parents[child],
            choice=rng.choice(choices),
        )
        for child in rng.sample(sorted(parents), len(parents) * 2 // 3)
    )
