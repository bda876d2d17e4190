"""Two headless Chromium clients with fake cameras join a lesson through Kreide's lesson
page and receive each other's video through Janus (frames decoded > 0, from getStats).

Janus gathers no ICE candidates on loopback, so this runs inside a network namespace:
`scripts/janus/in-netns.sh .venv/bin/pytest tests/video -m janus` (see docs/video.md).
"""

from __future__ import annotations

import os

import pytest

from kreide.video import janus_process, services
from kreide.video.models import MediaServer
from tests.video.conftest import start_janus

ICE_INTERFACE = os.environ.get("KREIDE_JANUS_ICE_INTERFACE", "")
pytestmark = [
    pytest.mark.janus,
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not ICE_INTERFACE, reason="needs scripts/janus/in-netns.sh"),
]

MEDIA_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--disable-background-networking",
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def media_browser():
    from playwright.sync_api import sync_playwright

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=MEDIA_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def netns_janus(db):
    started = start_janus(ice_interface=ICE_INTERFACE)
    MediaServer.objects.create(
        name="janus-netns",
        url=started.api_url,
        public_url=started.ws_url,
        admin_key=started.admin_key,
        capacity=10,
        healthy=True,
    )
    services.check_servers()
    yield started
    started.stop()
    janus_process.remove_config(started.config_dir)


def test_two_clients_receive_each_others_video(
    world, netns_janus, media_browser, live_server, sign_in
):
    lesson = services.create_lesson(
        world.teacher_7a,
        group=world.class_7a,
        title="Kunst",
        starts_at=None,
        minutes=45,
        classroom_mode=False,
    )
    pages = []
    for user in (world.teacher_7a, world.student_7a):
        context = media_browser.new_context(base_url=live_server.url, locale="de-DE")
        context.set_default_timeout(20_000)
        page = context.new_page()
        sign_in(page, user.username)
        page.goto(f"/video/{lesson.pk}/")
        page.get_by_role("button", name="Beitreten").click()
        page.wait_for_url(f"**/video/{lesson.pk}/room/")
        pages.append(page)
    # page.evaluate runs outside the page's CSP (wait_for_function would need eval).
    for page in pages:
        frames = until(
            page,
            "window.KreideVideo ? window.KreideVideo.framesDecoded() : 0",
            lambda decoded: decoded > 0,
        )
        assert frames > 0
    people = "document.querySelector('[data-count]').textContent"
    assert until(pages[1], people, lambda count: count == "2") == "2"


def until(page, expression: str, done, attempts: int = 60):
    """Evaluate `expression` every 0.5 s until `done(value)`; bounded, returns the last value."""
    value = None
    for _ in range(attempts):
        value = page.evaluate(expression)
        if done(value):
            return value
        page.wait_for_timeout(500)
    return value
