"""Web Push in a real browser (Debian's Chromium): the settings page registers Kreide's
service worker from Kreide's origin under the strict CSP, and a push message delivered to
it (through the DevTools protocol, as the browser's push service would) is shown as a
notification and reaches the open page; the bell counts up live over the real-time
process."""

import copy
import json
import time

import pytest
from playwright.sync_api import expect

from kreide.notifications import delivery, services
from tests.notifications.conftest import in_thread, local

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _registration_id(cdp, page) -> str:
    found: list[dict] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda e: found.extend(e["registrations"]))
    cdp.send("ServiceWorker.enable")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        live = [r for r in found if not r["isDeleted"] and r["scopeURL"].endswith("/")]
        if live:
            return live[0]["registrationId"]
        page.wait_for_timeout(50)  # lets Playwright dispatch the protocol's events
    raise AssertionError("the service worker never registered")


def test_the_service_worker_shows_a_push_and_tells_the_page(page, live_server, world, sign_in):
    page.context.grant_permissions(["notifications"], origin=live_server.url)
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    sign_in(page, world.student_7a.username)
    page.goto("/notifications/settings/")
    expect(page.locator("[data-push]")).to_have_attribute("data-registered", "true")
    expect(page.get_by_role("button", name="Hier Push-Nachrichten empfangen")).to_be_visible()
    assert page.evaluate(
        "() => navigator.serviceWorker.ready.then(r => r.active.scriptURL)"
    ).endswith("/notifications/sw.js")

    cdp = page.context.new_cdp_session(page)
    registration = _registration_id(cdp, page)
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {
            "origin": live_server.url,
            "registrationId": registration,
            "data": json.dumps(
                {"title": "Kreide", "body": "Neue Aufgabe: Lyrik", "url": "/tasks/", "count": 3}
            ),
        },
    )
    # The open page hears of it: a status line and the bell's count.
    expect(page.locator("[data-kreide-live-note]")).to_have_text("Neue Aufgabe: Lyrik")
    expect(page.locator('nav a[href="/notifications/"] .count')).to_contain_text("3")
    # And the browser shows it as a notification that opens the task list.
    shown = page.evaluate(
        """() => navigator.serviceWorker.ready
            .then(r => r.getNotifications())
            .then(list => list.map(n => [n.title, n.body, n.data.url]))"""
    )
    assert shown == [["Kreide", "Neue Aufgabe: Lyrik", f"{live_server.url}/tasks/"]]
    assert not [e for e in errors if "Content Security Policy" in e]


def test_the_bell_counts_up_without_a_reload(
    asgi_server, open_page, live_server, world, sign_in, settings
):
    port = int(asgi_server.rsplit(":", 1)[1])
    settings.REALTIME_PORT = port
    policy = copy.deepcopy(settings.CONTENT_SECURITY_POLICY)
    policy["DIRECTIVES"]["connect-src"] += [f"ws://localhost:{port}"]
    settings.CONTENT_SECURITY_POLICY = policy
    page = open_page()
    sign_in(page, world.student_7a.username)
    page.goto("/notifications/")
    # The count on connect has arrived: the socket is subscribed.
    expect(page.locator("script[data-state=live]")).to_have_count(1)
    bell = page.locator('nav a[href="/notifications/"] .count')
    expect(bell).to_have_count(0)

    services.notify(world.school.pk, [world.student_7a.pk], "news", "Hitzefrei ab 11 Uhr")
    in_thread(delivery.work_until_empty, now=local(12))  # as the worker process does
    expect(bell).to_contain_text("1")
    expect(page.locator("[data-kreide-live-note]")).to_have_text("Hitzefrei ab 11 Uhr")
