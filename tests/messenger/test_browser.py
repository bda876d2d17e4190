"""A student and a teacher chatting in two browser pages: pages from the live server
(WSGI), live delivery through the separate uvicorn process (the real-time path)."""

import copy

import pytest
from playwright.sync_api import expect

from kreide.messenger.models import Message


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_student_and_teacher_chat(
    asgi_server, browser, live_server, world, rooms, sign_in, settings
):
    port = int(asgi_server.rsplit(":", 1)[1])
    settings.REALTIME_PORT = port
    policy = copy.deepcopy(settings.CONTENT_SECURITY_POLICY)
    policy["DIRECTIVES"]["connect-src"].append(f"ws://localhost:{port}")
    settings.CONTENT_SECURITY_POLICY = policy
    room_url = f"/messages/rooms/{rooms.class_7a.pk}/"
    pages, sockets = [], []
    for user, viewport in (
        (world.student_7a, {"width": 390, "height": 844}),
        (world.teacher_7a, {"width": 1280, "height": 800}),
    ):
        context = browser.new_context(base_url=live_server.url, locale="de-DE", viewport=viewport)
        context.set_default_timeout(15_000)
        page = context.new_page()
        page.on("websocket", lambda ws, opened=sockets: opened.append(ws.url))
        sign_in(page, user.username)
        page.goto(room_url)
        pages.append(page)
    student, teacher = pages
    try:
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
        assert all(url.startswith(f"ws://localhost:{port}/") for url in sockets) and sockets
    finally:
        for page in pages:
            page.context.close()
    assert list(
        Message.objects.for_school(world.school).order_by("id").values_list("author", flat=True)
    ) == [world.student_7a.pk, world.teacher_7a.pk]
