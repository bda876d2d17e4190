"""Redis stopped, restarted and frozen under a running `kreide serve`: students keep
working, nothing acknowledged is lost, and everything recovers by itself."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import uuid

import pytest
import requests
from tusclient import client as tus_client
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from kreide.files import services as files
from kreide.messenger import services as messenger
from tests.faults.conftest import csrf_headers, run_async, signed_in, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
TIMEOUT = 10


class Student:
    """One student's browser: a signed-in session, their uploads and acknowledged messages."""

    def __init__(self, base_url: str, user, room_id: int) -> None:
        self.base_url, self.user, self.room_id = base_url, user, room_id
        self.session = signed_in(base_url, user.username)
        self.folder = files.root_of(files.personal_space(user)).pk
        self.uploads: dict[int, str] = {}  # file id -> SHA-256 of what was sent
        self.acknowledged: list[int] = []  # message ids the server confirmed

    def page(self, path: str = "/") -> requests.Response:
        return self.session.get(f"{self.base_url}{path}", timeout=TIMEOUT, allow_redirects=False)

    def upload(self, tmp_path, size: int = 300_000) -> None:
        data = os.urandom(size)
        source = tmp_path / f"{uuid.uuid4().hex}.bin"
        source.write_bytes(data)
        headers = {
            **csrf_headers(self.session, self.base_url),
            "Cookie": "; ".join(f"{k}={v}" for k, v in self.session.cookies.items()),
        }
        uploader = tus_client.TusClient(f"{self.base_url}/uploads/", headers=headers).uploader(
            file_path=str(source),
            chunk_size=100_000,
            metadata={"purpose": "file", "filename": source.name, "folder": str(self.folder)},
        )
        uploader.upload()
        result = self.session.get(uploader.url.rstrip("/") + "/result", timeout=TIMEOUT).json()
        self.uploads[result["id"]] = hashlib.sha256(data).hexdigest()

    def send(self, text: str) -> None:
        answer = self.session.post(
            f"{self.base_url}/messages/rooms/{self.room_id}/send",
            json={"text": text, "key": uuid.uuid4().hex},
            headers=csrf_headers(self.session, self.base_url),
            timeout=TIMEOUT,
        )
        assert answer.status_code == 201, (answer.status_code, answer.text[:300])
        self.acknowledged.append(answer.json()["message"]["id"])

    def sign_out(self) -> None:
        answer = self.session.post(
            f"{self.base_url}/accounts/logout/",
            headers=csrf_headers(self.session, self.base_url),
            timeout=TIMEOUT,
            allow_redirects=False,
        )
        assert answer.status_code == 302, answer.status_code

    def check_nothing_lost(self) -> None:
        for file_id, sha256 in self.uploads.items():
            download = self.page(f"/files/item/{file_id}/download")
            assert download.status_code == 200, download.status_code
            assert hashlib.sha256(download.content).hexdigest() == sha256
        listing = self.page(f"/messages/rooms/{self.room_id}/messages?after=0").json()
        stored = {message["id"] for message in listing["messages"]}
        assert set(self.acknowledged) <= stored


def _signed_in_page_works(student: Student) -> None:
    answer = student.page("/")
    assert answer.status_code == 200, (answer.status_code, answer.headers.get("Location"))
    assert student.user.username in answer.text or "Abmelden" in answer.text


def _readiness(base_url: str) -> tuple[int, dict]:
    answer = requests.get(f"{base_url}/readyz", timeout=TIMEOUT)
    return answer.status_code, answer.json()


@pytest.fixture
def scene(world, redis_server, kreide_serve):
    room = messenger.sync_group_room(world.class_7a)
    serve = kreide_serve(redis=redis_server)
    return serve, room


def test_students_keep_working_while_redis_is_stopped_and_restarted(
    scene, world, redis_server, tmp_path
):
    serve, room = scene
    alice = Student(serve.url, world.student_7a, room.pk)
    _signed_in_page_works(alice)
    alice.upload(tmp_path)
    alice.send("vorher")
    assert _readiness(serve.url)[1]["checks"]["cache"] == "ok"

    redis_server.stop()

    # Alice's session (cached in the Redis that is gone) still loads from the database.
    _signed_in_page_works(alice)
    for path in ("/tasks/", "/files/", "/messages/"):
        assert alice.page(path).status_code == 200, path
    alice.upload(tmp_path)
    alice.send("während Redis fehlt")
    # A classmate signs in while Redis is away.
    bob = Student(serve.url, world.classmate_7a, room.pk)
    _signed_in_page_works(bob)
    bob.send("ich auch")
    # The node still serves pages, so it stays in the load balancer, and says what is wrong.
    status, body = _readiness(serve.url)
    assert status == 200
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["cache"].startswith("unavailable")
    assert body["status"] == "degraded"
    status_page = requests.get(f"{serve.url}/status", timeout=TIMEOUT)
    assert status_page.status_code == 200

    redis_server.start()

    wait_for(lambda: _readiness(serve.url)[1]["checks"]["cache"] == "ok", 30, "cache recovery")
    _signed_in_page_works(alice)
    _signed_in_page_works(bob)
    alice.upload(tmp_path)
    alice.send("nachher")
    for student in (alice, bob):
        student.check_nothing_lost()
    assert len(alice.uploads) == 3 and len(alice.acknowledged) == 3


def test_sign_in_lockout_still_counts_without_redis(scene, world, redis_server, settings):
    serve, _ = scene
    redis_server.stop()
    session = requests.Session()
    url = f"{serve.url}/accounts/login/"
    answers = []
    for _ in range(settings.LOGIN_FAILURES_PER_ACCOUNT + 1):
        form = session.get(url, timeout=TIMEOUT)
        token = form.text.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
        answers.append(
            session.post(
                url,
                data={
                    "csrfmiddlewaretoken": token,
                    "username": world.student_7b.username,
                    "password": "falsch-falsch",
                },
                headers={"Referer": url},
                timeout=TIMEOUT,
            )
        )
    # The fifth failure locks the account, though Redis, where it counts, is away.
    limit = settings.LOGIN_FAILURES_PER_ACCOUNT
    assert [answer.status_code for answer in answers] == [200] * (limit - 1) + [429, 429]


def test_frozen_redis_is_skipped_and_thawed_redis_used_again(scene, world, redis_server, tmp_path):
    serve, room = scene
    alice = Student(serve.url, world.student_7a, room.pk)
    _signed_in_page_works(alice)

    bob = Student(serve.url, world.classmate_7a, room.pk)
    _signed_in_page_works(bob)  # his session is now in Redis, which keeps it while frozen
    bobs_cookies = dict(bob.session.cookies)

    redis_server.freeze()
    try:
        # Every request answers (a frozen cache costs a short timeout at most, then the
        # circuit breaker skips it); the client gives up after TIMEOUT seconds.
        for _ in range(10):
            _signed_in_page_works(alice)
        alice.send("eingefroren")
        alice.upload(tmp_path)
        status, body = _readiness(serve.url)
        assert status == 200 and body["checks"]["cache"].startswith("unavailable")
        bob.sign_out()
    finally:
        redis_server.thaw()

    wait_for(lambda: _readiness(serve.url)[1]["checks"]["cache"] == "ok", 30, "cache recovery")
    _signed_in_page_works(alice)
    alice.check_nothing_lost()
    # Redis thawed with Bob's old session in it: his signed-out cookie stays signed out.
    replayed = [
        requests.get(f"{serve.url}/", cookies=bobs_cookies, timeout=TIMEOUT, allow_redirects=False)
        for _ in range(6)
    ]
    assert [answer.status_code for answer in replayed] == [302] * 6


async def _frames_until_closed(ws) -> int:
    """Reads until the server closes; returns the close code."""
    try:
        while True:
            await asyncio.wait_for(ws.recv(), TIMEOUT)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else 1006


def test_messenger_sockets_report_a_lost_redis_and_recover(scene, world, redis_server):
    serve, room = scene
    alice = Student(serve.url, world.student_7a, room.pk)
    cookie = "; ".join(f"{k}={v}" for k, v in alice.session.cookies.items())
    headers = {"Origin": serve.url, "Cookie": cookie}
    socket_url = f"{serve.realtime_url}/ws/messenger/"

    async def scenario() -> tuple[int, int, list[int]]:
        async with connect(socket_url, additional_headers=headers, open_timeout=TIMEOUT) as ws:
            hello = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
            assert hello["type"] == "hello" and room.pk in hello["rooms"]
            await ws.send(
                json.dumps(
                    {"type": "send", "room": room.pk, "text": "live", "key": uuid.uuid4().hex}
                )
            )
            acked = []
            while not acked:
                frame = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
                if frame["type"] == "ack":
                    acked.append(frame["message"]["id"])
            redis_server.stop()
            open_socket_code = await _frames_until_closed(ws)
        # A new socket while Redis is away is told the same.
        async with connect(socket_url, additional_headers=headers, open_timeout=TIMEOUT) as ws:
            new_socket_code = await _frames_until_closed(ws)
        return open_socket_code, new_socket_code, acked

    open_code, new_code, acked = run_async(scenario())
    assert open_code == 4503
    assert new_code == 4503
    alice.acknowledged += acked
    alice.send("per HTTP, während Redis fehlt")

    redis_server.start()

    async def after_recovery() -> list[int]:
        async with connect(socket_url, additional_headers=headers, open_timeout=TIMEOUT) as ws:
            hello = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
            assert hello["type"] == "hello"
            await ws.send(json.dumps({"type": "sync", "room": room.pk, "after": 0}))
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
                if frame["type"] == "sync":
                    return [message["id"] for message in frame["messages"]]

    def recovered() -> list[int] | None:
        try:
            return run_async(after_recovery())
        except (ConnectionClosed, OSError, TimeoutError):
            return None

    caught_up = wait_for(recovered, 30, "socket recovery")
    assert set(alice.acknowledged) <= set(caught_up)
    alice.check_nothing_lost()
