"""Video fixtures: a real Janus on free loopback ports registered as Kreide's media server,
and (inside scripts/janus/in-netns.sh) Chromium with fake camera and microphone."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from kreide.video import janus_process, services
from kreide.video.models import MediaServer
from tests.ports import free_port

# Set by scripts/janus/in-netns.sh: the veth on which Janus gathers ICE candidates.
ICE_INTERFACE = os.environ.get("KREIDE_JANUS_ICE_INTERFACE", "")


def start_janus(ice_interface: str = "") -> janus_process.JanusProcess:
    if not janus_process.available():
        pytest.skip("Janus is not installed (Debian package janus, scripts/system-packages.sh)")
    base = 20000 + free_port() % 20000  # a private RTP range per run
    return janus_process.start(
        Path(tempfile.mkdtemp(prefix="kreide-janus-")),
        http_port=free_port(),
        ws_port=free_port(),
        rtp_ports=(base, base + 200),
        ice_interface=ice_interface,
    )


@pytest.fixture(scope="session")
def janus_server():
    started = start_janus()
    yield started
    started.stop()
    janus_process.remove_config(started.config_dir)


def register(started: janus_process.JanusProcess, name: str, capacity: int) -> MediaServer:
    """Make a running Janus one of Kreide's media servers."""
    return MediaServer.objects.create(
        name=name,
        url=started.api_url,
        public_url=started.ws_url,
        admin_key=started.admin_key,
        capacity=capacity,
        healthy=True,
    )


@pytest.fixture
def media_server(janus_server, db) -> MediaServer:
    server = register(janus_server, "janus-test", capacity=20)
    services.check_servers()
    return server


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
    "--auto-select-desktop-capture-source=Entire screen",  # screen sharing without a dialog
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
    register(started, "janus-netns", capacity=10)
    services.check_servers()
    yield started
    started.stop()
    janus_process.remove_config(started.config_dir)


def join_lesson(browser, base_url: str, sign_in, user, lesson, timeout_ms: int = 20_000):
    """A browser page of `user`, signed in, that joined `lesson` through Kreide's page."""
    context = browser.new_context(base_url=base_url, locale="de-DE")
    context.set_default_timeout(timeout_ms)
    page = context.new_page()
    sign_in(page, user.username)
    page.goto(f"/video/{lesson.pk}/")
    page.get_by_role("button", name="Beitreten").click()
    page.wait_for_url(f"**/video/{lesson.pk}/room/")
    return page
