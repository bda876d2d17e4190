"""The waiting room in a real browser: a student who comes before the join window waits
on the page (position, assigned time), which lets them in by itself when the window opens.
Janus runs for signalling only (no media is needed, so no network namespace)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from kreide.video import services
from kreide.video.models import VideoLesson

pytestmark = [pytest.mark.janus, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_waiting_room_lets_the_student_in_when_the_window_opens(world, media_server, page, sign_in):
    csp_errors: list[str] = []
    page.on(
        "console",
        lambda message: (
            csp_errors.append(message.text)
            if "violates the following Content Security" in message.text
            else None
        ),
    )
    lesson = services.create_lesson(
        world.teacher_7a, group=world.class_7a, title="Chemie", starts_at=None, minutes=45
    )
    sign_in(page, world.student_7a.username)
    page.goto("/")
    page.get_by_role("link", name="Videostunden").click()
    page.get_by_role("link", name="Chemie").click()
    # The window opens a few seconds from now (set here: signing in takes its time; the
    # join click must reach the waiting room before it opens, even on a loaded machine).
    opens = timezone.now() + timedelta(seconds=15)
    VideoLesson.objects.for_school(world.school).filter(pk=lesson.pk).update(join_opens_at=opens)
    page.get_by_role("button", name="Beitreten").click()
    page.wait_for_url(f"**/video/{lesson.pk}/waiting/")
    assert page.get_by_text("Deine Startzeit").is_visible()
    assert timezone.localtime(opens).strftime("%H:%M:%S") in page.content()
    # No reload, no click: the page asks again at the assigned time (plus jitter).
    page.wait_for_url(f"**/video/{lesson.pk}/room/", timeout=45_000)
    assert page.get_by_role("heading", name="Teilnehmende").is_visible()
    assert page.locator("[data-connection]").is_visible()
    assert csp_errors == []
