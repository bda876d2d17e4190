"""Two headless Chromium clients with fake cameras join a lesson through Kreide's lesson
page and receive each other's video through Janus (frames decoded > 0, from getStats):
classroom mode, a student called on, screen sharing, and a reconnect after Janus restarts.

Janus gathers no ICE candidates on loopback, so this runs inside a network namespace:
`scripts/janus/in-netns.sh .venv/bin/pytest tests/video -m janus` (see docs/video.md).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Error as PlaywrightError

from kreide.video import services
from tests.video.conftest import ICE_INTERFACE, join_lesson

pytestmark = [
    pytest.mark.janus,
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not ICE_INTERFACE, reason="needs scripts/janus/in-netns.sh"),
]


def test_two_clients_receive_each_others_video(
    world, netns_janus, media_browser, live_server, sign_in
):
    lesson = services.create_lesson(
        world.teacher_7a, group=world.class_7a, title="Kunst", starts_at=None, minutes=45
    )
    assert lesson.classroom_mode  # the default: only the teacher sends video at first
    pages = [
        join_lesson(media_browser, live_server.url, sign_in, user, lesson)
        for user in (world.teacher_7a, world.student_7a)
    ]
    teacher, student = pages
    # page.evaluate runs outside the page's CSP (wait_for_function would need eval).
    decoded = "window.KreideVideo ? window.KreideVideo.framesDecoded() : 0"
    assert until(student, decoded, lambda frames: frames > 0) > 0
    people = "document.querySelector('[data-count]').textContent"
    assert until(student, people, lambda count: count == "2") == "2"
    # The teacher calls on the student: the student's page adds its camera, the teacher's
    # subscription picks up the new stream.
    teacher.get_by_role("button", name="Drannehmen").click()
    assert until(teacher, decoded, lambda frames: frames > 0) > 0
    # The teacher shares the screen instead of the camera: the student keeps decoding.
    teacher.get_by_role("button", name="Bildschirm teilen").click()
    teacher.locator('[data-screen][aria-pressed="true"]').wait_for()
    before = student.evaluate(decoded)
    assert until(student, decoded, lambda frames: frames > before + 10) > before + 10
    # A drop: Janus restarts, every session and room is gone. The pages reconnect by
    # themselves (backoff + jitter); Kreide sees the server healthy again (health is
    # re-checked at most every 15 s), makes a new room, and video flows again.
    for page in pages:
        page.evaluate("window.beforeTheDrop = true")
    netns_janus.restart()
    again = "window.beforeTheDrop || !window.KreideVideo ? 0 : window.KreideVideo.framesDecoded()"
    for page in pages:
        assert until(page, again, lambda decoded: decoded > 0, attempts=120) > 0
        assert page.locator("[data-connection]").inner_text() == "Verbunden"


def until(page, expression: str, done, attempts: int = 60):
    """Evaluate `expression` every 0.5 s until `done(value)`; bounded, returns the last value."""
    value = None
    for _ in range(attempts):
        try:
            value = page.evaluate(expression)
        except PlaywrightError:  # the page is navigating (reconnect reloads it)
            value = None
        if value is not None and done(value):
            return value
        page.wait_for_timeout(500)
    return value
