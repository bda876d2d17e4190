"""The demo school's parents: one for every student, and the sample student's parent also
has a sibling in another class (so `make run`'s sample parent shows two children)."""

from __future__ import annotations

import random

from django.contrib.auth.hashers import make_password

from kreide.accounts.models import User
from kreide.parents.models import ParentLink
from kreide.schools.demo import DEMO_PASSWORD, demo_logins
from kreide.schools.demo_names import FIRST_NAMES
from kreide.schools.models import Group, Membership, School


def seed(school: School, rng: random.Random) -> None:
    students = list(User.objects.for_school(school).filter(role=User.Role.STUDENT).order_by("pk"))
    if not students:
        return
    password_hash = make_password(DEMO_PASSWORD)
    parents = [
        User(
            school=school,
            username=f"eltern.{student.username}",
            first_name=rng.choice(FIRST_NAMES),
            last_name=student.last_name,
            role=User.Role.PARENT,
            password=password_hash,
        )
        for student in students
    ]
    User.objects.bulk_create(parents)
    links = [
        ParentLink(school=school, parent_id=parent.pk, child_id=student.pk)
        for parent, student in zip(parents, students, strict=True)
    ]
    logins = demo_logins(school)
    if logins is not None:
        by_username = {student.username: index for index, student in enumerate(students)}
        sample = by_username[logins.student]
        classes = dict(
            Membership.objects.for_school(school)
            .filter(group__kind=Group.Kind.CLASS, role=Membership.Role.MEMBER)
            .values_list("user_id", "group_id")
        )
        sibling = next(
            index
            for index in range(len(students) - 1, -1, -1)
            if classes.get(students[index].pk) != classes.get(students[sample].pk)
        )
        links.append(
            ParentLink(school=school, parent_id=parents[sample].pk, child_id=students[sibling].pk)
        )
    ParentLink.objects.for_school(school).bulk_create(links)
