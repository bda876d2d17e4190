"""Screenshots of each role's main pages for the README, taken once by hand:

    make test-postgres PYTEST_ARGS="tests/screenshots/shoot.py"

The file name does not match test_*.py, so the suite never runs it; the PNGs in
docs/screenshots/ are reduced to a small palette and stay a few dozen KB each."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from PIL import Image

from kreide.accounts.models import User
from kreide.messenger import services as messenger
from kreide.messenger.models import Message
from kreide.storage.blobstore import store_bytes
from kreide.tasks import services as tasks
from kreide.tasks.models import Task
from tests.conftest import PHONE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
DESKTOP = {"width": 1024, "height": 640}
NAMES = [
    ("Mia", "Becker"), ("Ben", "Schulz"), ("Emma", "Wagner"), ("Paul", "Hoffmann"),
    ("Lina", "Koch"), ("Finn", "Richter"), ("Lea", "Klein"), ("Jonas", "Wolf"),
    ("Hannah", "Neumann"), ("Elias", "Schwarz"), ("Sofia", "Zimmermann"), ("Noah", "Braun"),
]  # fmt: skip


def _save(page, name: str) -> None:
    shot = Image.open(io.BytesIO(page.screenshot()))
    # Screens of text and flat colours: 48 colours look the same at a fraction of the size.
    shot.convert("RGB").quantize(colors=48).save(OUT / f"{name}.png", optimize=True)


@pytest.fixture
def day(school, make_group, make_user):
    school.name = "Gymnasium am See"
    school.save()
    group = make_group(school, "7a")
    other = make_group(school, "7b")
    teacher = make_user(
        school, User.Role.TEACHER, groups=(group, other), first_name="Sabine", last_name="Lehmann"
    )
    students = [
        make_user(school, groups=(group,), first_name=first, last_name=last)
        for first, last in NAMES
    ]
    admin = make_user(school, User.Role.SCHOOL_ADMIN, first_name="Petra", last_name="Krause")
    room = messenger.sync_group_room(group)
    Message.objects.for_school(school).create(
        room=room, author=teacher, client_key="screenshot-1", body="Guten Morgen, 7a!"
    )
    now = timezone.now()
    poem = tasks.save_task(
        teacher,
        Task(
            title="Gedichtanalyse „Erlkönig“",
            description="Lies das Gedicht und beschreibe **Vater** und **Sohn**.",
            due_at=now + timedelta(days=2),
            expects=Task.Expects.BOTH,
        ),
        [group],
        [],
    )
    tasks.save_task(
        teacher,
        Task(title="Bruchrechnung, Blatt 3", due_at=now + timedelta(days=5)),
        [group],
        [],
    )
    for n, student in enumerate(students[:8]):
        tasks.add_file(
            student, poem, store_bytes(f"Analyse {n}\n".encode() * 40), "Analyse.txt", now
        )
        tasks.save_text(student, poem, "Der Vater glaubt dem Sohn nicht.")
        tasks.hand_in(student, poem)
    for student in students[:3]:
        submission = tasks.my_submission(student, poem)
        submission.task = poem
        tasks.review(teacher, submission, "Gut beobachtet!", grade="2")
    return {"teacher": teacher, "students": students, "admin": admin, "poem": poem}


def test_take_screenshots(open_page, sign_in, day):
    OUT.mkdir(parents=True, exist_ok=True)
    poem, first = day["poem"], day["students"][8]

    student = open_page(PHONE)
    sign_in(student, first.username)
    student.wait_for_url("**/")
    _save(student, "student-phone-overview")
    student.goto(f"/tasks/{poem.pk}/")
    student.locator("#solution-files").set_input_files(
        files=[{"name": "Analyse.txt", "mimeType": "text/plain", "buffer": b"Vater und Sohn\n"}]
    )
    student.locator(".upload-item.done").wait_for()
    student.get_by_label("Deine Antwort").fill("Der Sohn sieht den Erlkönig, der Vater nicht.")
    student.get_by_role("button", name="Text speichern").click()
    student.get_by_role("button", name="Abgeben", exact=True).click()
    student.locator("#receipt").scroll_into_view_if_needed()
    _save(student, "student-phone-receipt")

    teacher = open_page(DESKTOP)
    sign_in(teacher, day["teacher"].username)
    teacher.goto("/tasks/")
    _save(teacher, "teacher-task-list")
    teacher.goto(f"/tasks/{poem.pk}/")
    teacher.get_by_role("link", name="Bewerten beginnen").click()
    _save(teacher, "teacher-marking")
    phone = open_page(PHONE)
    sign_in(phone, day["teacher"].username)
    phone.goto("/tasks/new/")
    phone.get_by_label("7a").check()
    phone.get_by_label("Nach Namen suchen").fill("mia")
    phone.get_by_label("Becker, Mia").check()
    phone.locator("[data-student-picker]").scroll_into_view_if_needed()
    _save(phone, "teacher-phone-student-picker")

    admin = open_page(DESKTOP)
    sign_in(admin, day["admin"].username)
    admin.goto("/accounts/admin/users/")
    _save(admin, "admin-accounts")
    menu = open_page(PHONE)
    sign_in(menu, day["admin"].username)
    menu.goto("/accounts/admin/users/")
    menu.get_by_role("button", name="Menü").click()
    _save(menu, "admin-phone-menu")
    assert len(list(OUT.glob("*.png"))) >= 7
