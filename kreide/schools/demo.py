"""The demo school: 1,200 students in 48 classes (5a–10f, 11a–13d), 90 teachers, 2 admins.

Other modules add their own demo content through a `demo.seed(school, rng)` function of
their own, called in the order of INSTALLED_APPS by `kreide seed-demo`.
"""

from __future__ import annotations

import importlib
import random
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from django.apps import apps
from django.contrib.auth.hashers import make_password
from django.db import transaction

from kreide.accounts.models import User
from kreide.parents.models import ParentLink
from kreide.schools.demo_names import FIRST_NAMES, LAST_NAMES, SUBJECTS
from kreide.schools.models import Group, Membership, School, Subject

DEMO_SLUG = "demo"
DEMO_PASSWORD = "kreide-demo"  # noqa: S105 - the only default password in Kreide; `make run` prints it
CLASS_LAYOUT = [(grade, "abcdef") for grade in range(5, 11)] + [
    (grade, "abcd") for grade in range(11, 14)
]
STUDENTS_PER_CLASS = 25
TEACHERS = 90
TEACHERS_PER_CLASS = 6


@dataclass
class DemoLogins:
    student: str
    teacher: str
    admin: str
    class_name: str
    parent: str | None = None
    password: str = DEMO_PASSWORD


def ascii_fold(text: str) -> str:
    """Lower-case ASCII as German offices write names without umlauts: ä → ae, ß → ss,
    other accents dropped."""
    text = text.lower()
    for umlaut, plain in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        text = text.replace(umlaut, plain)
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def ascii_username(first: str, last: str) -> str:
    return "".join(ch for ch in ascii_fold(f"{first}.{last}") if ch.isalnum() or ch in ".-")


class _Names:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.taken: set[str] = set()

    def person(self) -> tuple[str, str, str]:
        first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
        base = ascii_username(first, last)
        username, number = base, 2
        while username in self.taken:
            username, number = f"{base}{number}", number + 1
        self.taken.add(username)
        return first, last, username


def demo_logins(school: School | None = None) -> DemoLogins | None:
    """The accounts `make run` prints: a student, a teacher of that student's class (so the
    teacher's pages are full of the student's work), a parent of the student and an admin."""
    school = school or School.objects.filter(slug=DEMO_SLUG).first()
    if school is None:
        return None
    classes = Membership.objects.for_school(school).filter(group__kind=Group.Kind.CLASS)
    student = (
        classes.filter(role=Membership.Role.MEMBER, user__role=User.Role.STUDENT)
        .order_by("user_id")
        .values("user_id", "user__username", "group_id", "group__name")
        .first()
    )
    if student is None:
        return None
    teacher = (
        classes.filter(role=Membership.Role.TEACHER, group_id=student["group_id"])
        .order_by("user_id")
        .values_list("user__username", flat=True)
        .first()
    )
    return DemoLogins(
        student=student["user__username"],
        teacher=teacher,
        admin=User.objects.for_school(school)
        .filter(role=User.Role.SCHOOL_ADMIN)
        .order_by("pk")
        .values_list("username", flat=True)[0],
        class_name=student["group__name"],
        # By the child's id: joined on its username, PostgreSQL plans the freshly seeded
        # tables (no statistics yet) as nested loops over every account.
        parent=ParentLink.objects.for_school(school)
        .filter(child_id=student["user_id"])
        .order_by("parent_id")
        .values_list("parent__username", flat=True)
        .first(),
    )


def _module_seeders() -> list[Callable[[School, random.Random], None]]:
    seeders = []
    for config in apps.get_app_configs():
        if not config.name.startswith("kreide.") or config.name == "kreide.schools":
            continue
        try:
            module = importlib.import_module(f"{config.name}.demo")
        except ModuleNotFoundError as error:
            if error.name != f"{config.name}.demo":
                raise
            continue
        seeders.append(module.seed)
    return seeders


@transaction.atomic
def create_demo_school(progress: Callable[[str], None] = lambda step: None) -> School:
    rng = random.Random(2021)  # the same demo school on every machine
    names = _Names(rng)
    school = School.objects.create(
        name="Gymnasium am Kreidefelsen",
        slug=DEMO_SLUG,
        address="Gymnasium am Kreidefelsen\nSchulstraße 1\n49661 Cloppenburg",
    )
    # Hashing once and sharing it keeps seeding fast; demo accounts only.
    password_hash = make_password(DEMO_PASSWORD)

    progress("subjects")
    subjects = Subject.unscoped.bulk_create(
        Subject(school=school, name=name, short_name=short) for name, short in SUBJECTS
    )

    progress("staff")
    admins = [
        User(
            school=school,
            username=username,
            first_name=first,
            last_name=last,
            role=User.Role.SCHOOL_ADMIN,
            password=password_hash,
            email=f"{username}@kreidefelsen.example",
        )
        for first, last, username in (names.person() for _ in range(2))
    ]
    teachers = [
        User(
            school=school,
            username=username,
            first_name=first,
            last_name=last,
            role=User.Role.TEACHER,
            password=password_hash,
            email=f"{username}@kreidefelsen.example",
        )
        for first, last, username in (names.person() for _ in range(TEACHERS))
    ]
    User.objects.bulk_create(admins + teachers)
    subject_links = []
    for teacher in teachers:
        for subject in rng.sample(subjects, 2):
            subject_links.append(
                User.teaching_subjects.through(user_id=teacher.pk, subject_id=subject.pk)
            )
    User.teaching_subjects.through.objects.bulk_create(subject_links)

    progress("classes and students")
    students, memberships = [], []
    students_by_grade: dict[int, list[User]] = {}
    for grade, letters in CLASS_LAYOUT:
        for letter in letters:
            group = Group.unscoped.create(
                school=school, name=f"{grade}{letter}", grade=grade, kind=Group.Kind.CLASS
            )
            for teacher in rng.sample(teachers, TEACHERS_PER_CLASS):
                memberships.append(
                    Membership(
                        school=school, group=group, user=teacher, role=Membership.Role.TEACHER
                    )
                )
            for _ in range(STUDENTS_PER_CLASS):
                first, last, username = names.person()
                student = User(
                    school=school,
                    username=username,
                    first_name=first,
                    last_name=last,
                    role=User.Role.STUDENT,
                    password=password_hash,
                )
                students.append(student)
                students_by_grade.setdefault(grade, []).append(student)
                memberships.append(
                    Membership(
                        school=school, group=group, user=student, role=Membership.Role.MEMBER
                    )
                )
    User.objects.bulk_create(students)
    for membership in memberships:  # bulk_create set the users' primary keys
        membership.user_id = membership.user.pk

    progress("courses and working groups")
    maths = next(subject for subject in subjects if subject.short_name == "Ma")
    extra_groups = [
        ("Mathe LK 12", Group.Kind.COURSE, 12, maths),
        ("Schulband", Group.Kind.WORKGROUP, None, None),
        ("Robotik-AG", Group.Kind.WORKGROUP, None, None),
    ]
    for name, kind, grade, subject in extra_groups:
        group = Group.unscoped.create(
            school=school, name=name, kind=kind, grade=grade, subject=subject
        )
        memberships.append(
            Membership(
                school=school, group=group, user=rng.choice(teachers), role=Membership.Role.TEACHER
            )
        )
        pool = students if grade is None else students_by_grade[grade]
        for student in rng.sample(pool, 20):
            memberships.append(
                Membership(school=school, group=group, user=student, role=Membership.Role.MEMBER)
            )
    Membership.unscoped.bulk_create(memberships, batch_size=2000)

    for seed in _module_seeders():
        progress(seed.__module__.split(".")[1])
        seed(school, rng)
    return school
