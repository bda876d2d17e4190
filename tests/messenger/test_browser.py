"""A student and a teacher chatting in two browser pages: pages from the live server
(WSGI), live delivery through the separate uvicorn process (the real-time path), and a
third page whose socket cannot connect, so it polls."""

import concurrent.futures
import copy
import socket

import pytest
from django.db import connection
from playwright.sync_api import expect

from kreide.messenger import services
from kreide.messenger.models import Message


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_student_and_teacher_chat(
    asgi_server, browser, live_server, world, rooms, sign_in, settings
):
    port = int(asgi_server.rsplit(":", 1)[1])
    settings.REALTIME_PORT = port
    policy = copy.deepcopy(settings.CONTENT_SECURITY_POLICY)
    closed = _closed_port()  # the real-time process is down for one of the pages
    policy["DIRECTIVES"]["connect-src"] += [f"ws://localhost:{port}", f"ws://localhost:{closed}"]
    settings.CONTENT_SECURITY_POLICY = policy
    room_url = f"/messages/rooms/{rooms.class_7a.pk}/"
    contexts, sockets = [], []

    def open_room(user, viewport):
        context = browser.new_context(base_url=live_server.url, locale="de-DE", viewport=viewport)
        context.set_default_timeout(20_000)
        contexts.append(context)
        page = context.new_page()
        page.on("websocket", lambda ws: sockets.append(ws.url))
        sign_in(page, user.username)
        page.goto(room_url)
        return page

    try:
        # A classmate whose socket cannot connect (nothing listens on that port) polls.
        settings.REALTIME_PORT = closed
        classmate = open_room(world.classmate_7a, {"width": 390, "height": 844})
        expect(classmate.locator(".chat-status")).to_contain_text(
            "Keine Live-Verbindung", timeout=20_000
        )
        settings.REALTIME_PORT = port
        student = open_room(world.student_7a, {"width": 390, "height": 844})
        teacher = open_room(world.teacher_7a, {"width": 1280, "height": 800})

        student.get_by_label("Nachricht", exact=True).fill("Ich verstehe Aufgabe 3 nicht.")
        student.get_by_role("button", name="Senden").click()
        expect(teacher.locator(".chat-log")).to_contain_text("Ich verstehe Aufgabe 3 nicht.")
        teacher.get_by_label("Nachricht", exact=True).fill(
            "Schau mal auf https://example.org/hilfe"
        )
        teacher.get_by_label("Nachricht", exact=True).press("Enter")
        link = student.locator(".chat-log a[href='https://example.org/hilfe']")
        expect(link).to_have_attribute("rel", "noopener nofollow")
        expect(student.locator(".chat-status")).to_be_hidden()  # live, not polling
        assert any(url.startswith(f"ws://localhost:{port}/") for url in sockets)

        # The polling classmate gets both and writes back over HTTP; the others hear it live.
        expect(classmate.locator(".chat-log")).to_contain_text("Schau mal auf", timeout=20_000)
        classmate.get_by_label("Nachricht", exact=True).fill("Ich auch nicht!")
        classmate.get_by_role("button", name="Senden").click()
        expect(teacher.locator(".chat-log")).to_contain_text("Ich auch nicht!")

        # The teacher removes the first message: the live pages hear it at once, the polling
        # classmate with its next catch-up (a change to a message it has already shown).
        first = Message.objects.for_school(world.school).order_by("id").first()
        _in_a_thread(services.delete_message, world.teacher_7a, first.pk)
        for page in (student, classmate):
            entry = page.locator(f".chat-log li[data-id='{first.pk}']")
            expect(entry).to_contain_text("Diese Nachricht wurde gelöscht.", timeout=20_000)
            expect(entry).not_to_contain_text("Ich verstehe Aufgabe 3 nicht.")
    finally:
        for context in contexts:
            context.close()
    assert list(
        Message.objects.for_school(world.school).order_by("id").values_list("author", flat=True)
    ) == [world.student_7a.pk, world.teacher_7a.pk, world.classmate_7a.pk]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _in_a_thread(function, *args):
    """Playwright's event loop runs in this thread; the service's broadcast to the socket
    process needs a thread without one (as in a WSGI worker)."""

    def run():
        try:
            return function(*args)
        finally:
            connection.close()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()
