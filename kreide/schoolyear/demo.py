"""The demo school's current school year (August to July) and its rule: grades 5 to 13."""

from __future__ import annotations

import random
from datetime import date

from django.utils import timezone

from kreide.schools.models import School
from kreide.schoolyear.models import RolloverRule, SchoolYear
from kreide.schoolyear.services import label_for


def seed(school: School, rng: random.Random) -> None:
    today = timezone.localdate()
    first = today.year if today.month >= 8 else today.year - 1
    starts_on = date(first, 8, 1)
    SchoolYear.objects.for_school(school).create(
        label=label_for(starts_on),
        starts_on=starts_on,
        ends_on=date(first + 1, 7, 31),
        is_current=True,
    )
    RolloverRule.objects.for_school(school).create(final_grade=13, teachers_follow=True)
