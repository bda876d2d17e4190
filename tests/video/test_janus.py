"""Video lessons against a real Janus: room life cycle, a join storm at 5x capacity, and
Janus dying while the rest of Kreide keeps working."""

from __future__ import annotations

import json
import threading
import urllib.request

import pytest
from django.db import connection
from django.test import Client

from kreide.video import janus, janus_process, services
from kreide.video.models import Admission, MediaServer, VideoLesson
from tests.video.conftest import register, start_janus

pytestmark = [pytest.mark.janus, pytest.mark.django_db(transaction=True)]


def live_lesson(world, **fields) -> VideoLesson:
    return services.create_lesson(
        world.teacher_7a, group=world.class_7a, title="Physik", starts_at=None, minutes=45, **fields
    )


def test_a_lesson_gets_a_room_with_tokens_and_ending_destroys_it(world, media_server, client_for):
    lesson = live_lesson(world)
    assert lesson.status == VideoLesson.Status.LIVE and lesson.server == media_server
    assert janus.participants(media_server.url, room=lesson.room_id) == []
    teacher = client_for(world.teacher_7a)
    assert teacher.post(f"/video/{lesson.pk}/admit/").status_code == 200
    page = teacher.get(f"/video/{lesson.pk}/room/")
    admission = Admission.objects.for_school(world.school).get(user=world.teacher_7a)
    html = page.content.decode()
    assert f'data-token="{admission.token}"' in html and "Alle stummschalten" in html
    assert media_server.public_url.split("//")[1] in page["Content-Security-Policy"]
    # Without admission there is no room page (and no token).
    assert client_for(world.student_7a).get(f"/video/{lesson.pk}/room/").status_code == 302
    teacher.post(f"/video/{lesson.pk}/control/end/")
    with pytest.raises(janus.JanusError, match="426"):
        janus.participants(media_server.url, room=lesson.room_id)
    assert client_for(world.student_7a).post(f"/video/{lesson.pk}/admit/").status_code == 410


def join_janus_room(base_url: str, room: int, token: str) -> dict:
    """Join as a publisher over Janus's HTTP API (as a browser would) and return the event."""
    session = janus._post(base_url, {"janus": "create"})["data"]["id"]
    handle = janus._post(
        f"{base_url}/{session}", {"janus": "attach", "plugin": "janus.plugin.videoroom"}
    )["data"]["id"]
    janus._post(
        f"{base_url}/{session}/{handle}",
        {
            "janus": "message",
            "body": {"request": "join", "ptype": "publisher", "room": room, "token": token},
        },
    )
    with urllib.request.urlopen(f"{base_url}/{session}?maxev=1", timeout=10) as response:
        event = json.load(response)
    janus._post(f"{base_url}/{session}", {"janus": "destroy"})
    return event["plugindata"]["data"]


def test_only_admitted_tokens_join_the_janus_room(world, media_server, client_for):
    lesson = live_lesson(world)
    refused = join_janus_room(media_server.url, lesson.room_id, "guessed")
    assert refused["error_code"] == 433 and "Unauthorized" in refused["error"]
    client_for(world.student_7a).post(f"/video/{lesson.pk}/admit/")
    token = Admission.objects.for_school(world.school).get(user=world.student_7a).token
    assert join_janus_room(media_server.url, lesson.room_id, token)["videoroom"] == "joined"


def test_join_storm_at_five_times_capacity(world, media_server, make_user):
    capacity = 5
    MediaServer.objects.filter(pk=media_server.pk).update(capacity=capacity)
    lesson = live_lesson(world)
    assert services.admit(world.teacher_7a, lesson).state == "admitted"
    students = [make_user(world.school, groups=(world.class_7a,)) for _ in range(capacity * 5)]
    results: list[tuple[int, dict]] = []
    barrier = threading.Barrier(len(students))

    def join(student) -> None:
        client = Client()
        client.force_login(student)
        barrier.wait()
        response = client.post(f"/video/{lesson.pk}/admit/")
        results.append((response.status_code, response.json()))
        connection.close()

    threads = [threading.Thread(target=join, args=(student,)) for student in students]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == len(students)
    admitted = [body for status, body in results if status == 200]
    waiting = [body for status, body in results if status == 202]
    assert len(admitted) == capacity - 1  # the teacher holds the last place
    assert sorted(body["position"] for body in waiting) == list(range(1, 4 * capacity + 2))
    assert all(body["join_at"] for body in waiting)
    assert (
        Admission.objects.for_school(world.school).filter(state=Admission.State.ADMITTED).count()
        == capacity
    )
    # Unauthorised joins are refused, whatever the load.
    outsider = Client()
    outsider.force_login(world.student_7b)
    assert outsider.post(f"/video/{lesson.pk}/admit/").status_code == 403
    # When an admitted student leaves, the head of the queue gets the place.
    first_waiting = (
        Admission.objects.for_school(world.school)
        .filter(state=Admission.State.WAITING)
        .order_by("queued_at", "pk")
        .first()
    )
    leaver = (
        Admission.objects.for_school(world.school)
        .filter(state=Admission.State.ADMITTED)
        .exclude(user=world.teacher_7a)
        .first()
    )
    services.leave(leaver.user, lesson)
    assert services.admit(first_waiting.user, lesson).state == "admitted"


def test_janus_dying_shows_the_banner_and_the_lesson_restarts_elsewhere(
    world, media_server, client_for
):
    doomed = start_janus()
    try:
        MediaServer.objects.filter(pk=media_server.pk).update(healthy=False)
        dying = register(doomed, "doomed", capacity=20)
        lesson = live_lesson(world)
        assert lesson.server == dying
        MediaServer.objects.filter(pk=media_server.pk).update(healthy=True)
    finally:
        doomed.stop()
        janus_process.remove_config(doomed.config_dir)
    assert services.check_servers() == "ok"  # the other server still runs
    student, teacher = client_for(world.student_7a), client_for(world.teacher_7a)
    assert "ausgefallen" in student.get(f"/video/{lesson.pk}/").content.decode()
    assert student.post(f"/video/{lesson.pk}/admit/").status_code == 503
    # The teacher restarts the lesson on the healthy server; students join again.
    assert teacher.post(f"/video/{lesson.pk}/control/restart/").status_code == 302
    lesson.refresh_from_db()
    assert lesson.server_id == media_server.pk and lesson.status == VideoLesson.Status.LIVE
    assert student.post(f"/video/{lesson.pk}/admit/").status_code == 200
    # With no healthy server at all: a banner everywhere, and the other modules work.
    MediaServer.objects.filter(pk=media_server.pk).update(url="http://127.0.0.1:9/janus")
    assert services.check_servers() == "down"
    dashboard = student.get("/")
    assert dashboard.status_code == 200
    assert "Videostunden sind gerade nicht verfügbar" in dashboard.content.decode()
    for other_module in ("/messages/", "/tasks/", "/files/"):
        assert student.get(other_module).status_code in (200, 302)
    assert "Video ist gerade nicht verfügbar" in student.get("/video/").content.decode()


def test_in_the_lesson_chat_hands_call_on_mute_all_and_remove(world, media_server, client_for):
    lesson = live_lesson(world)
    teacher, student = client_for(world.teacher_7a), client_for(world.student_7a)
    for client in (teacher, student):
        assert client.post(f"/video/{lesson.pk}/admit/").status_code == 200
    assert student.post(f"/video/{lesson.pk}/chat/", {"text": "  "}).json()["message"] == (
        "Die Nachricht ist leer."
    )
    assert student.post(f"/video/{lesson.pk}/chat/", {"text": "<b>Hallo</b>"}).status_code == 201
    student.post(f"/video/{lesson.pk}/hand/", {"raised": "1"})
    state = teacher.get(f"/video/{lesson.pk}/state/").json()
    assert [m["text"] for m in state["chat"]] == ["<b>Hallo</b>"]
    assert len(state["participants"]) == 2
    mine = next(p for p in state["participants"] if not p["teacher"])
    assert mine["hand"] and not mine["video"]
    # Students cannot use teacher controls.
    assert student.post(f"/video/{lesson.pk}/control/mute-all/").status_code == 404
    teacher.post(f"/video/{lesson.pk}/control/call-on/", {"participant": mine["id"]})
    teacher.post(f"/video/{lesson.pk}/control/mute-all/")
    seen = student.get(f"/video/{lesson.pk}/state/?after={state['chat'][0]['id']}").json()
    assert seen["me"]["video_allowed"] and not seen["me"]["hand"]
    assert seen["mute_all"] == state["mute_all"] + 1 and seen["chat"] == []
    teacher.post(f"/video/{lesson.pk}/control/remove/", {"participant": mine["id"]})
    assert student.get(f"/video/{lesson.pk}/state/").json()["me"]["state"] == "removed"
    assert student.post(f"/video/{lesson.pk}/admit/").status_code == 403
    assert student.post(f"/video/{lesson.pk}/chat/", {"text": "x"}).status_code == 403


def test_the_teacher_always_finds_a_place(world, media_server):
    MediaServer.objects.filter(pk=media_server.pk).update(capacity=2)
    lesson = live_lesson(world)
    assert services.admit(world.student_7a, lesson).state == "admitted"
    waiting = services.admit(world.classmate_7a, lesson)
    assert (waiting.state, waiting.position) == ("waiting", 1)
    assert services.admit(world.teacher_7a, lesson).state == "admitted"
