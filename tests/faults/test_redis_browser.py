"""A student's open messenger room in Chromium while Redis is lost under `kreide serve`:
the socket is closed with 4503, the page says so, keeps receiving by polling and goes
live again by itself once Redis is back."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from kreide.messenger import services as messenger
from tests.faults.test_redis import Student

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Test instrumentation, injected before the page's own scripts (not subject to the CSP):
# every socket with its close code and whether the server said "hello" (live), and every
# state of the status line, so a state shown for a moment is not missed.
WATCH = """
window.kreideSockets = [];
const NativeSocket = window.WebSocket;
window.WebSocket = class extends NativeSocket {
  constructor(...args) {
    super(...args);
    const entry = { code: null, hello: false };
    window.kreideSockets.push(entry);
    this.addEventListener("message", (event) => {
      if (String(event.data).includes('"type":"hello"')) entry.hello = true;
    });
    this.addEventListener("close", (event) => { entry.code = event.code; });
  }
};
window.kreideStatus = [];
document.addEventListener("DOMContentLoaded", () => {
  const line = document.querySelector(".chat-status");
  const note = () => window.kreideStatus.push(line.hidden ? "" : line.textContent);
  new MutationObserver(note).observe(line, {
    attributes: true, childList: true, characterData: true, subtree: true,
  });
});
"""
IS_LIVE = "(s) => s.hello && s.code === null"
LIVE = f"() => window.kreideSockets.some({IS_LIVE})"
RECONNECTING = "Verbindung unterbrochen"
POLLING = "Keine Live-Verbindung"


def test_an_open_room_keeps_receiving_while_redis_is_lost(
    world, redis_server, kreide_serve, browser, sign_in
):
    room = messenger.sync_group_room(world.class_7a)
    serve = kreide_serve(redis=redis_server)
    teacher = Student(serve.url, world.teacher_7a, room.pk)  # writes over HTTP
    context = browser.new_context(base_url=serve.url, locale="de-DE")
    context.set_default_timeout(20_000)
    try:
        page = context.new_page()
        page.add_init_script(WATCH)
        sign_in(page, world.student_7a.username)
        page.goto(f"/messages/rooms/{room.pk}/")
        log, status = page.locator(".chat-log"), page.locator(".chat-status")
        page.wait_for_function(LIVE)
        teacher.send("Vor dem Ausfall")
        expect(log).to_contain_text("Vor dem Ausfall")
        expect(status).to_be_hidden()
        since = page.evaluate("window.kreideStatus.length")
        # The live one (an earlier handshake may have timed out on a busy machine).
        live = page.evaluate(f"window.kreideSockets.findIndex({IS_LIVE})")
        closed = f"window.kreideSockets[{live}].code"

        redis_server.stop()
        page.wait_for_function(f"() => {closed} !== null", timeout=30_000)
        assert page.evaluate(closed) == 4503
        expect(status).to_contain_text(POLLING, timeout=30_000)
        teacher.send("Während Redis fehlt")
        expect(log).to_contain_text("Während Redis fehlt", timeout=30_000)
        # While Redis is away every new socket is closed with 4503 too, and the page never
        # claims to be live (an empty, hidden status line) in between.
        sockets = page.evaluate("window.kreideSockets")
        assert len(sockets) > live + 1 and not any(s["hello"] for s in sockets[live + 1 :])
        assert all(s["code"] == 4503 for s in sockets[live:] if s["code"] is not None)
        shown = page.evaluate("window.kreideStatus")[since:]
        assert shown and "" not in shown, shown
        assert any(RECONNECTING in text for text in shown), shown
        assert any(POLLING in text for text in shown), shown

        redis_server.start()
        # Reconnecting backs off up to a minute between attempts.
        page.wait_for_function(LIVE, timeout=90_000)
        expect(status).to_be_hidden()
        teacher.send("Nach dem Ausfall")
        expect(log).to_contain_text("Nach dem Ausfall")
        for text in ("Vor dem Ausfall", "Während Redis fehlt", "Nach dem Ausfall"):
            expect(log.locator("li", has_text=text)).to_have_count(1)
    finally:
        context.close()
