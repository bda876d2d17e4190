"""Every role's main pages in a real browser, on a desktop and on a 360×640 phone: axe-core
finds nothing critical or serious, and on the phone the header stays small, nothing is
wider than the screen and every control is a touch target of at least 44 px."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from kreide.accounts.models import User
from kreide.messenger import services as messenger
from kreide.messenger.models import Message
from kreide.storage.blobstore import store_bytes
from kreide.tasks import services as tasks
from kreide.tasks.models import Task
from tests.conftest import DESKTOP, PHONE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MEASURE = (Path(__file__).parent / "phone_layout.js").read_text(encoding="utf-8")


@pytest.fixture
def school_day(world):
    """A school day under way: a class room with a message, a task with a text handed in."""
    rooms = messenger.sync_group_room(world.class_7a)
    # Written directly: send_message() would broadcast from inside Playwright's event loop.
    Message.objects.for_school(world.school).create(
        room=rooms, author=world.teacher_7a, client_key="first-message-1", body="Guten Morgen!"
    )
    task = tasks.save_task(
        world.teacher_7a,
        Task(
            title="Gedichtanalyse Erlkönig",
            description="Lies das Gedicht.",
            due_at=timezone.now() + timedelta(days=2),
            expects=Task.Expects.BOTH,
        ),
        [world.class_7a],
        [],
    )
    tasks.save_text(world.student_7a, task, "Der Vater reitet durch die Nacht.")
    tasks.add_file(world.student_7a, task, store_bytes(b"Notizen"), "Notizen.txt", timezone.now())
    submission = tasks.hand_in(world.student_7a, task)
    return {"room": rooms, "task": task, "submission": submission}


def _pages(world, day) -> dict[str, tuple[User, list[str]]]:
    task, room = day["task"], day["room"]
    return {
        "student": (
            world.student_7a,
            [
                "/",
                "/tasks/",
                f"/tasks/{task.pk}/",
                "/files/",
                "/messages/",
                f"/messages/rooms/{room.pk}/",
                "/video/",
                "/accounts/password/",
                "/timetable/",
                "/timetable/week/",
                "/timetable/substitutions/",
                "/timetable/calendar/",
                "/timetable/calendar/new/",
            ],
        ),
        "teacher": (
            world.teacher_7a,
            [
                "/",
                "/tasks/",
                f"/tasks/{task.pk}/",
                "/tasks/new/",
                f"/tasks/{task.pk}/submissions/{day['submission'].pk}/",
                "/messages/",
                "/files/",
                "/accounts/my-classes/",
                "/video/",
                "/timetable/",
                f"/timetable/class/{world.class_7b.pk}/",
                "/timetable/browse/",
            ],
        ),
        "admin": (
            world.admin,
            [
                "/",
                "/accounts/admin/users/",
                "/accounts/admin/users/new/",
                "/accounts/admin/groups/",
                "/accounts/admin/import/",
                "/accounts/admin/audit/",
                "/files/",
                "/status",
                "/timetable/manage/",
                "/timetable/manage/import/",
                "/timetable/calendar/settings/",
            ],
        ),
    }


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
@pytest.mark.parametrize("role", ["student", "teacher", "admin"])
def test_main_pages_are_accessible_and_fit_a_phone(
    open_page, sign_in, axe, world, school_day, role, viewport
):
    user, urls = _pages(world, school_day)[role]
    page = open_page(viewport)
    sign_in(page, user.username)
    page.wait_for_url("**/")
    problems = []
    if viewport is PHONE:
        # The navigation is one tap away, across the whole width, and closes again.
        menu = page.get_by_role("button", name="Menü")
        menu.click()
        box = page.locator("nav.main-nav").bounding_box()
        assert box["x"] < 24 and box["width"] > 300, box
        assert (
            page.locator("nav.main-nav")
            .get_by_role("link", name="Aufgaben", exact=True)
            .is_visible()
        )
        axe(page)
        page.keyboard.press("Escape")
        assert menu.get_attribute("aria-expanded") == "false"
        assert not page.locator("nav.main-nav").is_visible()
    for url in urls:
        response = page.goto(url)
        assert response.status == 200, url
        axe(page)
        if viewport is PHONE:
            measured = page.evaluate(MEASURE)
            if measured["header"] > 0.15 * PHONE["height"]:
                problems.append(f"{url}: header {measured['header']:.0f}px")
            if measured["width"] > PHONE["width"]:
                problems.append(f"{url}: {measured['width']}px wide: {measured['wide']}")
            problems += [f"{url}: {entry}" for entry in measured["small"]]
    assert not problems, "\n".join(problems)
