"""A lesson page whose media fails at once (no Janus answers the browser) backs off: the
pause before each reload and admission request grows instead of reloading about twice a
second forever."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.db.models import F
from django.utils import timezone

from kreide.video import janus, services
from kreide.video.models import MediaServer
from tests.ports import free_port

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
OBSERVE_SECONDS = 20
# The page's backoff: the k-th retry waits at least half of BASE * 2**k (capped at 30 s).
BASE_MS = 1000


@pytest.fixture
def lesson_without_media(world, monkeypatch):
    """A running lesson whose server Kreide believes healthy, but whose Janus nobody can
    reach (closed port): admission says yes, media fails at once."""
    closed = free_port()
    server = MediaServer.objects.create(
        name="nowhere",
        url=f"http://127.0.0.1:{closed}/janus",
        public_url=f"ws://127.0.0.1:{closed}/",
        capacity=20,
        healthy=True,
    )
    # Kreide's side of Janus answers, but has lost the room each time it is asked, so
    # Kreide makes it again under a new number (as after a Janus restart) ...
    monkeypatch.setattr(services, "fresh_state", lambda: "ok")
    monkeypatch.setattr(janus, "create_room", lambda *args, **kwargs: None)

    def room_lost_and_made_again(lesson, admission):
        services.VideoLesson.objects.for_school(lesson.school_id).filter(pk=lesson.pk).update(
            room_id=F("room_id") + 1
        )

    monkeypatch.setattr(services, "_hand_out_token", room_lost_and_made_again)
    lesson = services.create_lesson(
        world.teacher_7a,
        group=world.class_7a,
        title="Mathe",
        starts_at=timezone.now() - timedelta(minutes=1),
        minutes=45,
    )
    assert lesson.server == server  # ... the browser's side does not
    return lesson


def test_failing_media_backs_off_instead_of_reloading_in_a_loop(
    page, sign_in, world, lesson_without_media
):
    lesson = lesson_without_media
    admissions: list[float] = []
    reloads: list[float] = []
    page.on(
        "request",
        lambda request: (
            admissions.append(time.monotonic())
            if request.method == "POST" and request.url.endswith(f"/video/{lesson.pk}/admit/")
            else None
        ),
    )
    page.on(
        "framenavigated",
        lambda frame: reloads.append(time.monotonic()) if frame == page.main_frame else None,
    )
    sign_in(page, world.student_7a.username)
    page.goto(f"/video/{lesson.pk}/")
    page.get_by_role("button", name="Beitreten").click()
    page.wait_for_url(f"**/video/{lesson.pk}/room/")
    started = time.monotonic()
    reloads.clear()
    page.wait_for_timeout(OBSERVE_SECONDS * 1000)
    window = [moment for moment in admissions if moment >= started]
    # Before: ~1.6 reloads and admission requests a second (about 32 here).
    assert 2 <= len(window) <= 6, window
    assert len(reloads) <= len(window)
    gaps = [later - earlier for earlier, later in zip(window, window[1:], strict=False)]
    for number, gap in enumerate(gaps, start=1):  # lower bounds only: slowness adds to them
        assert gap >= min(BASE_MS * 2**number, 30_000) / 2 / 1000 * 0.9, gaps
