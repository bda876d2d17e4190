"""nginx from `kreide nginx-config` in front of a real `kreide serve`, on free loopback ports."""

import base64
import hashlib
import http.client
import os
import re
import select
import shutil
import socket
import time
import urllib.parse
from contextlib import contextmanager
from http.cookies import SimpleCookie

import pytest
from django.db import connection

from bench.wave.stack import production_stack

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed"),
]


def _get(url: str, path: str, method: str = "GET", headers: dict | None = None, body: bytes = b""):
    parts = urllib.parse.urlsplit(url)
    client = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    client.request(method, path, body=body or None, headers=headers or {})
    response = client.getresponse()
    return response, response.read()


def _database_url() -> str:
    if connection.vendor != "postgresql" or not os.environ.get("KREIDE_REDIS_URL"):
        pytest.skip("the production stack runs on PostgreSQL and Redis")
    database = connection.settings_dict
    return f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"


@contextmanager
def _held_slot(url: str, path: str, cookie: str = ""):
    """A request nginx has admitted and counts until its body arrives, which it never does.

    nginx gives a finished request's slot back a moment after the client has its answer, so
    the held request itself may still find the slot taken by the one before: it is then
    answered at once (503), and sent again, a bounded number of times.
    """
    parts = urllib.parse.urlsplit(url)
    for _ in range(50):
        held = socket.create_connection((parts.hostname, parts.port), timeout=30)
        held.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\n{cookie}\r\nx".encode()
        )
        answered, _, _ = select.select([held], [], [], 0.2)
        if not answered:  # waiting for the rest of its body: admitted and counted
            break
        held.close()
    else:
        raise AssertionError(f"nginx never admitted the held request to {path}")
    with held:
        yield


@pytest.mark.django_db(transaction=True)
def test_nginx_serves_pages_static_files_and_passes_shed_503(tmp_path, static_files):
    database_url = _database_url()
    # No login may run at once: every sign-in is turned away, pages are not.
    limits = {"KREIDE_ADMISSION_LOGIN_IN_FLIGHT": "0", "KREIDE_ADMISSION_LOGIN_QUEUE": "0"}
    with production_stack(
        tmp_path,
        database_url,
        os.environ["KREIDE_REDIS_URL"],
        workers=1,
        settings=limits,
        setup=(),
        static_from=static_files,
    ) as stack:
        response, body = _get(stack.url, "/accounts/login/")
        page = body.decode()
        assert response.status == 200 and "Anmelden" in page

        stylesheet = re.search(r'href="(/static/kreide/css/kreide\.[0-9a-f]{12}\.css)"', page)
        assert stylesheet, "collected static files have hashed names"
        response, _ = _get(stack.url, stylesheet.group(1), headers={"Accept-Encoding": "gzip"})
        assert response.status == 200
        assert response.getheader("Content-Encoding") == "gzip"  # the precompressed file
        assert "max-age=31536000" in response.getheader("Cache-Control")
        assert response.getheader("Expires", "").endswith("2037 23:55:55 GMT")

        response, body = _get(
            stack.url, "/accounts/login/", method="POST", headers={"Accept": "text/html"}
        )
        assert response.status == 503
        assert int(response.getheader("Retry-After")) >= 1
        assert "Einen Moment bitte" in body.decode()


def _get_until(url: str, path: str, status: int, headers: dict | None = None):
    """nginx notices a held request (or its end) in its own time, maybe in another worker
    process: ask until the expected answer comes, a bounded number of times."""
    for _ in range(100):
        response, body = _get(url, path, headers=headers)
        if response.status == status:
            return response, body
        time.sleep(0.05)
    raise AssertionError(f"{path} never answered {status} (last answer {response.status})")


def _one_newcomer_slot_stack(tmp_path, static_files):
    """One worker behind nginx with two front slots, one of them for requests without a
    session."""
    return production_stack(
        tmp_path,
        _database_url(),
        os.environ["KREIDE_REDIS_URL"],
        workers=1,
        settings={"KREIDE_FRONT_LIMIT": "2", "KREIDE_FRONT_NEWCOMERS": "1"},
        setup=(),
        static_from=static_files,
    )


@pytest.mark.django_db(transaction=True)
def test_nginx_refuses_beyond_its_front_limit_itself_newcomers_first(tmp_path, static_files):
    """Past KREIDE_FRONT_LIMIT nginx answers 503 + Retry-After + the waiting page itself;
    requests without a session share a smaller part; downloads and tus chunks are not
    counted, so a slow line never blocks the front door."""
    with _one_newcomer_slot_stack(tmp_path, static_files) as stack:
        signed_in = {"Cookie": "sessionid=not-a-real-session", "Accept": "text/html"}
        with _held_slot(stack.url, "/accounts/login/"):
            # The one newcomer slot is taken: the next newcomer is turned away by nginx.
            response, body = _get_until(
                stack.url, "/accounts/login/", 503, headers={"Accept": "text/html"}
            )
            assert 2 <= int(response.getheader("Retry-After")) <= 4
            assert response.getheader("Cache-Control") == "no-store"
            assert "script-src 'self'" in response.getheader("Content-Security-Policy")
            page = body.decode()
            assert "Einen Moment bitte" in page
            assert f'data-retry-after="{response.getheader("Retry-After")}"' in page
            response, body = _get(
                stack.url, "/accounts/login/", headers={"Accept-Language": "en-GB,en"}
            )
            assert response.status == 503 and "One moment, please" in body.decode()

            # A request with a session still has room; Kreide itself answers it.
            response, _ = _get(stack.url, "/", headers=signed_in)
            assert response.status == 302  # the fake session is no session: to sign in
            with _held_slot(stack.url, "/", "Cookie: sessionid=x\r\n"):
                response, _ = _get_until(stack.url, "/", 503, headers=signed_in)
                assert response.getheader("Retry-After")
                # Not counted: file downloads and tus chunks reach Kreide (which says no).
                response, _ = _get(stack.url, "/files/item/999999/download", headers=signed_in)
                assert response.status in (302, 404)
                response, _ = _get(stack.url, "/uploads/abc", method="PATCH", headers=signed_in)
                assert response.status != 503
        # Each refusal nginx made is logged for the status page's count.
        refusals = (tmp_path / "data" / "front-refusals.log").read_text().split()
        assert len(refusals) >= 3 and all(float(line) > 0 for line in refusals)
        # Slots are given back when the requests end.
        response, body = _get_until(stack.url, "/accounts/login/", 200)
        assert "Anmelden" in body.decode()


@pytest.mark.django_db(transaction=True)
def test_a_newcomer_turned_away_gets_in_ahead_of_later_arrivals(tmp_path, static_files):
    """A newcomer nginx turns away gets a ticket; back after the Retry-After they were told,
    they may take a newcomer slot that later arrivals, and retries that did not wait,
    cannot: under a wave nobody is turned away again and again by lot."""
    # Two slots, one of them for newcomers; one more for newcomers who waited.
    with _one_newcomer_slot_stack(tmp_path, static_files) as stack:
        response, _ = _get(stack.url, "/accounts/login/")
        assert response.status == 200  # room: no ticket needed
        # A newcomer who just arrived holds the newcomers' slot.
        with _held_slot(stack.url, "/accounts/login/"):
            refused, _ = _get_until(stack.url, "/accounts/login/", 503)
            ticket = SimpleCookie()
            for header in refused.msg.get_all("Set-Cookie"):
                ticket.load(header)
            first_asked = ticket["kreide_queue"].value
            assert float(first_asked) > 0 and ticket["kreide_queue"]["max-age"] == "600"
            young = ticket["kreide_queue_young"]
            # Young no longer than the shortest wait the refusal may name (2-4 s).
            assert int(young["max-age"]) == 2 <= int(refused.getheader("Retry-After"))
            assert young["path"] == "/" and young["httponly"]

            # Back at once, both cookies still there: turned away like a later arrival, the
            # ticket kept as it was.
            cookie = {"Cookie": f"kreide_queue={first_asked}; kreide_queue_young=1"}
            response, _ = _get(stack.url, "/accounts/login/", headers=cookie)
            assert response.status == 503 and not response.msg.get_all("Set-Cookie")

            # Back after the wait, the young cookie gone: in, ahead of later arrivals, who
            # are still turned away.
            waited = {"Cookie": f"kreide_queue={first_asked}"}
            response, body = _get(stack.url, "/accounts/login/", headers=waited)
            assert response.status == 200 and "Anmelden" in body.decode()
            response, _ = _get(stack.url, "/accounts/login/")
            assert response.status == 503

            # The extra room is bounded: with it held too, a waited ticket is turned away.
            # It is not taken from the students already signed in, who still get through.
            with _held_slot(
                stack.url, "/accounts/login/", f"Cookie: kreide_queue={first_asked}\r\n"
            ):
                response, _ = _get_until(stack.url, "/accounts/login/", 503, headers=waited)
                response, _ = _get(stack.url, "/", headers={"Cookie": "sessionid=x"})
                assert response.status == 302


@pytest.mark.django_db(transaction=True)
def test_a_sign_in_turned_away_by_nginx_goes_through_by_itself_as_typed(
    tmp_path, world, static_files, browser
):
    """A sign-in nginx turns away shows the waiting page, whose own retry later sends the
    form again as it was typed (the browser repeats the POST; a desktop browser asks first):
    nobody types their password twice."""
    from tests.conftest import PASSWORD

    with _one_newcomer_slot_stack(tmp_path, static_files) as stack:
        context = browser.new_context(base_url=stack.url, locale="de-DE")
        page = context.new_page()
        try:
            page.goto("/accounts/login/")
            page.get_by_label("Benutzername oder E-Mail").fill(world.student_7a.username)
            page.get_by_label("Passwort", exact=True).fill(PASSWORD)
            with _held_slot(stack.url, "/accounts/login/"):
                page.get_by_role("button", name="Anmelden").click()
                page.get_by_role("heading", name="Einen Moment bitte").wait_for()
            # Room again: the waiting page tries again after Retry-After (2-4 s) and backoff,
            # and the signed-in student lands on the dashboard (signed out, / would send
            # them back to the form).
            page.wait_for_url(f"{stack.url}/", timeout=30_000)
        finally:
            context.close()


@pytest.mark.django_db(transaction=True)
def test_nginx_lets_whole_files_in_keeps_metrics_inside_and_redirects_long_queries(
    tmp_path, world, static_files
):
    """WebDAV and the form upload take files up to KREIDE_MAX_UPLOAD_BYTES through nginx (the
    10 MB for everything else refused them with 413); /metrics, which Kreide lets
    127.0.0.1 read, is not reachable through nginx (every proxied request comes from
    there); a long query string gets its sign-in redirect, not 502 "too big header"; a WebDAV
    path above /dav/ is a 400 with a reason from the real server (was an empty 400)."""
    from kreide.files import services
    from kreide.files.models import Node
    from tests.conftest import PASSWORD
    from tests.faults.conftest import signed_in

    student = world.student_7a
    with production_stack(
        tmp_path,
        _database_url(),
        os.environ["KREIDE_REDIS_URL"],
        workers=1,
        setup=(),
        static_from=static_files,
    ) as stack:
        content = os.urandom(20 * 1024 * 1024)
        token = base64.b64encode(f"{student.username}:{PASSWORD}".encode()).decode()
        response, body = _get(
            stack.url,
            f"/dav/{student.username}/Film.mp4",
            method="PUT",
            headers={"Authorization": f"Basic {token}"},
            body=content,
        )
        assert response.status == 201, body
        stored = Node.objects.for_school(student.school_id).get(name="Film.mp4")
        assert stored.blob.sha256 == hashlib.sha256(content).hexdigest()

        # The form upload without JavaScript: one whole file as multipart.
        session = signed_in(stack.url, student.username)
        root = services.root_of(services.personal_space(student))
        response = session.post(
            f"{stack.url}/files/folder/{root.pk}/upload/",
            data={"csrfmiddlewaretoken": session.cookies["csrftoken"]},
            files={"files": ("Vortrag.mp4", content[: 12 * 1024 * 1024])},
            headers={"Referer": f"{stack.url}/files/"},
            allow_redirects=False,
            timeout=60,
        )
        assert response.status_code == 302, response.text[:300]
        stored = Node.objects.for_school(student.school_id).get(name="Vortrag.mp4")
        assert stored.blob.sha256 == hashlib.sha256(content[: 12 * 1024 * 1024]).hexdigest()

        response, _ = _get(stack.url, "/metrics")
        assert response.status == 404
        response, body = _get(f"http://127.0.0.1:{stack.env['KREIDE_PORT']}", "/metrics")
        assert response.status == 200 and b"kreide_" in body  # Kreide's own port still has it

        # WebDAV paths above /dav/, straight to Kreide's port (nginx would resolve them).
        direct = f"http://127.0.0.1:{stack.env['KREIDE_PORT']}"
        for path in ("/dav/%2e%2e/etc/passwd", "/dav/../etc/passwd", "/dav/x/../../etc"):
            response, body = _get(direct, path, method="PROPFIND")
            assert response.status == 400
            assert "aus den eigenen WebDAV-Ordnern hinaus" in body.decode()

        query = "&".join(f"k{n}=1" for n in range(1000))  # 6,889 chars, ~11,000 in next=
        response, _ = _get(stack.url, f"/files/?{query}")
        assert response.status == 302
        assert response.getheader("Location").startswith("/accounts/login/?next=/files/")
