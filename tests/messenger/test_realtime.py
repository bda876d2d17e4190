"""Real time against a real uvicorn process with the `websockets` client library: two
clients in one room, catching up after being offline, idempotent resend, permissions and
bad frames. The server process shares the tests' PostgreSQL database and Redis."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import uuid

import pytest
from django.conf import settings
from django.test import Client
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from kreide.messenger import services
from kreide.messenger.models import Message

pytestmark = pytest.mark.django_db(transaction=True)
TIMEOUT = 10


def _cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def _open(server: str, cookie: str | None = None):
    headers = {"Origin": "http://127.0.0.1:8000"}
    if cookie is not None:
        headers["Cookie"] = cookie
    return connect(f"{server}/ws/messenger/", additional_headers=headers, open_timeout=TIMEOUT)


async def _next(ws, kind: str) -> dict:
    """The next frame of the given type (others, e.g. the "message" echo, are skipped)."""
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        if frame["type"] == kind:
            return frame


async def _say(ws, room_id: int, text: str, key: str | None = None) -> dict:
    key = key or uuid.uuid4().hex
    await ws.send(json.dumps({"type": "send", "room": room_id, "text": text, "key": key}))
    return await _next(ws, "ack")


@pytest.fixture
def cookies(world):
    """Session cookies of the world's users, made before any event loop runs."""

    class Cookies:
        pass

    made = Cookies()
    for name in ("student_7a", "classmate_7a", "teacher_7a", "student_7b", "other_student"):
        setattr(made, name, _cookie(getattr(world, name)))
    return made


def _run(coroutine):
    # In a thread of its own: once Playwright's browser fixture runs, this thread has an
    # event loop already.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, asyncio.wait_for(coroutine, 60)).result()


def test_two_clients_in_one_room_see_each_others_messages(
    asgi_server, cookies, world, rooms, client_for
):
    room = rooms.class_7a.pk
    teacher_over_http = client_for(world.teacher_7a)

    def post_over_http():
        teacher_over_http.post(
            f"/messages/rooms/{room}/send",
            json.dumps({"text": "Über HTTP", "key": uuid.uuid4().hex}),
            content_type="application/json",
        )

    async def scenario():
        async with (
            _open(asgi_server, cookies.student_7a) as student,
            _open(asgi_server, cookies.teacher_7a) as teacher,
        ):
            assert room in (await _next(student, "hello"))["rooms"]
            await _next(teacher, "hello")
            ack = await _say(student, room, "Guten Morgen, Frau Lehrerin!")
            heard = await _next(teacher, "message")
            assert heard["message"]["id"] == ack["message"]["id"]
            assert heard["message"]["text"] == "Guten Morgen, Frau Lehrerin!"
            assert heard["message"]["author"]["id"] == world.student_7a.pk
            await _say(teacher, room, "Guten Morgen!")
            reply = await _next(student, "message")
            while reply["message"]["author"]["id"] != world.teacher_7a.pk:  # own echo
                reply = await _next(student, "message")
            assert reply["message"]["text"] == "Guten Morgen!"
            # A message sent over HTTP (the page server) reaches the open sockets too.
            await asyncio.get_running_loop().run_in_executor(None, post_over_http)
            over_http = await _next(student, "message")
            assert over_http["message"]["text"] == "Über HTTP"

    _run(scenario())
    assert Message.objects.for_school(world.school).count() == 3


def test_offline_client_catches_up_exactly(asgi_server, cookies, world, rooms, client_for):
    room = rooms.class_7a.pk
    sent_over_http = client_for(world.teacher_7a)

    earlier = services.send_message(world.classmate_7a, room, "Doofe Frage", "earlier1")
    typo = services.send_message(world.teacher_7a, room, "Seite 21", "earlier2")

    async def first_session() -> tuple[int, str]:
        async with _open(asgi_server, cookies.student_7a) as student:
            await _next(student, "hello")
            await student.send(json.dumps({"type": "sync", "room": room, "after": 0}))
            synced = await _next(student, "sync")
            return (await _say(student, room, "Bin gleich weg"))["message"]["id"], synced["now"]

    last_seen, synced_at = _run(first_session())
    # While the student is offline, messages they saw change: edited and moderated away.
    services.edit_message(world.teacher_7a, typo.message["id"], "Seite 12")
    services.delete_message(world.teacher_7a, earlier.message["id"])

    # While the student is offline: messages over the socket and over HTTP (WSGI).
    async def teacher_talks() -> list[int]:
        async with _open(asgi_server, cookies.teacher_7a) as teacher:
            await _next(teacher, "hello")
            return [(await _say(teacher, room, f"Aufgabe {n}"))["message"]["id"] for n in range(3)]

    missed = _run(teacher_talks())
    for n in range(2):
        response = sent_over_http.post(
            f"/messages/rooms/{room}/send",
            json.dumps({"text": f"Nachtrag {n}", "key": uuid.uuid4().hex}),
            content_type="application/json",
        )
        missed.append(response.json()["message"]["id"])

    async def reconnect() -> dict:
        async with _open(asgi_server, cookies.student_7a) as student:
            await _next(student, "hello")
            await student.send(
                json.dumps({"type": "sync", "room": room, "after": last_seen, "since": synced_at})
            )
            return await _next(student, "sync")

    batch = _run(reconnect())
    caught_up = batch["messages"]
    assert [(m["text"], m["deleted"]) for m in batch["changed"]] == [
        ("Seite 12", False),
        ("", True),
    ]
    assert [m["id"] for m in caught_up] == missed
    assert [m["text"] for m in caught_up] == [
        "Aufgabe 0",
        "Aufgabe 1",
        "Aufgabe 2",
        "Nachtrag 0",
        "Nachtrag 1",
    ]


def test_resent_message_is_stored_once(asgi_server, cookies, world, rooms):
    room = rooms.class_7a.pk
    key = uuid.uuid4().hex

    async def scenario():
        async with _open(asgi_server, cookies.student_7a) as first:
            await _next(first, "hello")
            original = await _say(first, room, "Einmal bitte", key)
        # The connection dropped before the client saw the ack: it resends on reconnect.
        async with _open(asgi_server, cookies.student_7a) as second:
            await _next(second, "hello")
            resent = await _say(second, room, "Einmal bitte", key)
        return original, resent

    original, resent = _run(scenario())
    assert original["message"]["id"] == resent["message"]["id"]
    assert Message.objects.for_school(world.school).filter(client_key=key).count() == 1


def test_socket_permissions_across_classes_and_schools(asgi_server, cookies, world, rooms):
    async def scenario():
        async with (
            _open(asgi_server, cookies.student_7b) as outsider,
            _open(asgi_server, cookies.other_student) as stranger,
        ):
            hello = await _next(outsider, "hello")
            assert rooms.class_7a.pk not in hello["rooms"]
            assert (await _next(stranger, "hello"))["rooms"] == [rooms.other.pk]
            for ws in (outsider, stranger):
                await ws.send(
                    json.dumps(
                        {
                            "type": "send",
                            "room": rooms.class_7a.pk,
                            "text": "Hallo?",
                            "key": uuid.uuid4().hex,
                        }
                    )
                )
                refused = await _next(ws, "error")
                assert refused["code"] == "not_found"
                assert refused["message"] == "Diesen Raum oder diese Nachricht gibt es nicht."
                await ws.send(json.dumps({"type": "sync", "room": rooms.class_7a.pk, "after": 0}))
                assert (await _next(ws, "error"))["code"] == "not_found"

    _run(scenario())
    assert not Message.objects.for_school(world.school).exists()


MALFORMED = [
    ("not json", 4400),
    (json.dumps(["a", "list"]), 4400),
    (json.dumps({"type": "unknown"}), 4400),
    (json.dumps({"type": "send", "room": "7a", "text": "x", "key": "abcdefgh"}), 4400),
    (b"\x00\x01binary", 4400),
    ("[" * 7000 + "]" * 7000, 4400),  # nested past any parser's recursion limit
    (json.dumps({"type": "sync", "room": 2**63, "after": 0}), 4400),  # beyond 64 bits
    (json.dumps({"type": "read", "room": 1, "upto": 10**30}), 4400),
    ("x" * 20_000, 4413),
]


def test_bad_frames_and_anonymous_sockets_are_closed_with_a_reason(
    asgi_server, cookies, world, rooms
):
    async def closed_code(cookie, frame) -> int:
        async with _open(asgi_server, cookie) as ws:
            if frame is not None:
                await _next(ws, "hello")
                await ws.send(frame)
            with pytest.raises(ConnectionClosed) as closed:
                await _next(ws, "never")
            return closed.value.rcvd.code

    world.student_7b.is_active = False  # signed in before, deactivated since
    world.student_7b.save(update_fields=["is_active"])

    async def scenario():
        codes = [await closed_code(None, None), await closed_code(cookies.student_7b, None)]
        codes += [await closed_code(cookies.student_7a, frame) for frame, _ in MALFORMED]
        async with _open(asgi_server, cookies.student_7a) as ws:  # a frame storm
            await _next(ws, "hello")
            with pytest.raises(ConnectionClosed) as closed:
                for _ in range(200):
                    await ws.send(json.dumps({"type": "ping"}))
                await _next(ws, "never")
            codes.append(closed.value.rcvd.code)
        async with _open(asgi_server, cookies.classmate_7a) as ws:  # still serving everyone
            hello = await _next(ws, "hello")
        return codes, hello

    codes, hello = _run(scenario())
    assert codes == [4401, 4401] + [code for _, code in MALFORMED] + [4429]
    assert rooms.class_7a.pk in hello["rooms"]


def test_an_initial_password_opens_no_socket_until_changed(asgi_server, cookies, world, rooms):
    world.student_7a.must_change_password = True  # e.g. reset by the class teacher
    world.student_7a.save(update_fields=["must_change_password"])

    async def scenario():
        async with _open(asgi_server, cookies.student_7a) as ws:
            with contextlib.suppress(ConnectionClosed):  # closed already: nothing gets in
                await ws.send(
                    json.dumps(
                        {
                            "type": "send",
                            "room": rooms.class_7a.pk,
                            "text": "Hallo",
                            "key": uuid.uuid4().hex,
                        }
                    )
                )
            with pytest.raises(ConnectionClosed) as closed:
                await _next(ws, "never")
            return closed.value.rcvd.code

    assert _run(scenario()) == 4403
    assert not Message.objects.for_school(world.school).exists()


def test_flooding_is_refused_with_a_clear_message(asgi_server, cookies, world, rooms):
    room = rooms.class_7a.pk

    async def scenario():
        async with _open(asgi_server, cookies.student_7a) as ws:
            await _next(ws, "hello")
            codes = []
            for n in range(10):  # the server process allows 8 per window
                await ws.send(
                    json.dumps(
                        {"type": "send", "room": room, "text": f"Spam {n}", "key": uuid.uuid4().hex}
                    )
                )
                while True:
                    frame = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
                    if frame["type"] in ("ack", "error"):
                        codes.append(frame.get("code", "ok"))
                        last = frame
                        break
            return codes, last

    codes, last = _run(scenario())
    assert codes == ["ok"] * 8 + ["rate_limited"] * 2
    assert last["message"].startswith("Zu viele Nachrichten auf einmal")
    assert Message.objects.for_school(world.school).count() == 8
    assert settings.MESSENGER_RATE_LIMIT >= 8
