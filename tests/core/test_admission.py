import threading
import time

import pytest
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import reverse

from kreide.core.admission import (
    ANONYMOUS,
    HEAVY,
    LOGIN,
    SIGNED_IN,
    AdmissionMiddleware,
    Gate,
    classify,
)


def _wait_until(condition) -> None:
    """Synchronise with a thread (bounded), never a timing assertion."""
    for _ in range(500):
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError("condition not reached")


class Held:
    """A view that blocks the requests to `path` until released."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.release = threading.Event()
        self.inside = 0

    def __call__(self, request):
        if request.path == self.path:
            self.inside += 1
            self.release.wait(10)
        return HttpResponse("ok")


def _in_thread(function, *args):
    results = []
    thread = threading.Thread(target=lambda: results.append(function(*args)))
    thread.start()
    return thread, results


def test_gate_admits_better_priority_first_and_displaces_the_worst_waiter():
    gate = Gate(limit=1, queue_limit=1)
    assert gate.acquire(SIGNED_IN, 1)
    login_thread, login_result = _in_thread(gate.acquire, LOGIN, 10)
    _wait_until(lambda: gate.queued == 1)
    signed_in_thread, signed_in_result = _in_thread(gate.acquire, SIGNED_IN, 10)
    login_thread.join(5)
    assert login_result == [False]  # pushed out of the full queue by a better request
    assert not gate.acquire(ANONYMOUS, 0.01)  # full queue, nobody worse to displace
    gate.release()
    signed_in_thread.join(5)
    assert signed_in_result == [True]
    gate.release()
    assert gate.in_flight == 0 and gate.queued == 0


def test_gate_refuses_at_once_when_the_predicted_wait_is_too_long():
    gate = Gate(limit=2, queue_limit=10)
    assert gate.acquire(SIGNED_IN, 1) and gate.acquire(SIGNED_IN, 1)
    gate.hold_seconds = 3.0  # holders keep their slot for about 3 s
    # Waiting would take ~1.5 s but the request may wait 1 s: refused without queueing.
    assert not gate.acquire(SIGNED_IN, 1.0)
    assert gate.queued == 0
    gate.release(3.0)
    gate.release(3.0)
    assert gate.in_flight == 0


@pytest.fixture
def limits(settings):
    settings.ADMISSION_IN_FLIGHT = 2
    settings.ADMISSION_QUEUE = 0
    settings.ADMISSION_LOGIN_IN_FLIGHT = 1
    settings.ADMISSION_LOGIN_QUEUE = 1
    settings.ADMISSION_QUEUE_TIMEOUT_MS = 10_000
    settings.ADMISSION_RETRY_AFTER = 3
    return settings


def test_over_the_bound_a_fast_503_with_retry_after(limits):
    view = Held("/tasks/")
    middleware = AdmissionMiddleware(view)
    factory = RequestFactory()
    threads = [_in_thread(middleware, factory.get("/tasks/"))[0] for _ in range(2)]
    _wait_until(lambda: view.inside == 2)
    refused = middleware(factory.get("/tasks/", HTTP_ACCEPT="text/html"))
    assert refused.status_code == 503
    assert 3 <= int(refused["Retry-After"]) <= 6  # base plus jitter
    assert "Einen Moment bitte" in refused.content.decode()
    assert refused["Cache-Control"] == "no-store"
    # The status page is never queued.
    assert middleware(factory.get("/status")).status_code == 200
    view.release.set()
    for thread in threads:
        thread.join(5)
    assert middleware(factory.get("/tasks/")).status_code == 200


def test_signed_in_requests_pass_while_logins_are_queued(limits):
    view = Held("/accounts/login/")
    middleware = AdmissionMiddleware(view)
    factory = RequestFactory()
    first, _ = _in_thread(middleware, factory.post("/accounts/login/"))
    _wait_until(lambda: view.inside == 1)
    second, second_result = _in_thread(middleware, factory.post("/accounts/login/"))
    _wait_until(lambda: middleware.side[LOGIN].queued == 1)
    # A third login finds the login queue full and is refused at once.
    assert middleware(factory.post("/accounts/login/")).status_code == 503
    signed_in = factory.get("/", HTTP_COOKIE=f"{limits.SESSION_COOKIE_NAME}=abc")
    assert middleware(signed_in).status_code == 200
    view.release.set()
    for thread in (first, second):
        thread.join(5)
    assert second_result[0].status_code == 200


def test_waiting_page_costs_no_database_query(client, settings, django_assert_num_queries, db):
    settings.ADMISSION_IN_FLIGHT = 0
    settings.ADMISSION_QUEUE = 0
    client.cookies[settings.SESSION_COOKIE_NAME] = "a-session"
    with django_assert_num_queries(0):
        response = client.get("/", HTTP_ACCEPT="text/html")
    assert response.status_code == 503 and "Retry-After" in response
    page = response.content.decode()
    assert 'data-retry-after="' + response["Retry-After"] + '"' in page
    assert "<script>" not in page and "waiting.js" in page
    english = client.get("/", HTTP_ACCEPT="text/html", HTTP_ACCEPT_LANGUAGE="en")
    assert "One moment, please" in english.content.decode()
    htmx = client.get("/", HTTP_HX_REQUEST="true")
    assert htmx.status_code == 503 and htmx.content == b"busy\n"


def test_naive_configuration_admits_everything(client, settings, db):
    settings.ADMISSION_ENABLED = False
    settings.ADMISSION_IN_FLIGHT = 0
    assert client.get("/accounts/login/").status_code == 200


def test_heavy_work_is_known_by_its_view_every_time(settings):
    # The view behind a path is remembered per path: each path keeps its own answer.
    settings.ADMISSION_HEAVY_PATHS = ["/transfer/"]  # an operator's prefix, not a view
    factory = RequestFactory()
    archive = reverse("tasks:zip", args=[12])
    for _ in range(2):
        assert classify(factory.get(archive)) == HEAVY
        assert classify(factory.get("/tasks/12/")) == ANONYMOUS
        assert classify(factory.get("/transfer/")) == HEAVY
        assert classify(factory.get("/tasks/12/" + "x" * 300)) == ANONYMOUS


def test_a_script_with_an_api_token_queues_like_a_signed_in_browser():
    """As nginx's front limit counts them: an Authorization header is a signed-in client
    (it is checked later, by the view; so is a session cookie)."""
    factory = RequestFactory()
    assert classify(factory.patch("/uploads/x")) == ANONYMOUS
    assert classify(factory.patch("/uploads/x", HTTP_AUTHORIZATION="Bearer kreide_x")) == (
        SIGNED_IN
    )
