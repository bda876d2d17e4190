"""A pool of media servers behind several Kreide nodes (docs/scale-out.md, "Janus pool"):
two real Janus processes on loopback, named in the same KREIDE_JANUS_URLS on two nodes
behind HAProxy, which start no Janus of their own. Janus gathers no ICE candidates on
loopback, but its HTTP API (rooms, tokens) works, and that is all placement needs."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import pytest
import requests

from bench.wave.stack import Cluster, scale_out
from kreide.accounts.models import User
from kreide.video import janus, janus_process
from kreide.video.models import Admission, MediaServer, VideoLesson
from tests.faults.conftest import csrf_headers, database_url, signed_in, wait_for
from tests.video.conftest import start_janus

pytestmark = [
    pytest.mark.slow,
    pytest.mark.district,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        shutil.which("haproxy") is None or shutil.which("nginx") is None,
        reason="haproxy and nginx are needed (scripts/system-packages.sh test)",
    ),
    pytest.mark.skipif(
        not janus_process.available(),
        reason="Janus is not installed (Debian package janus, scripts/system-packages.sh)",
    ),
]
TIMEOUT = 15
CAPACITY = 3  # participants per media server: small, so filling one costs a few joins


@dataclass
class Pool:
    cluster: Cluster
    janus: dict[str, janus_process.JanusProcess]  # by API URL, as MediaServer.url has it

    @property
    def nodes(self) -> tuple[str, str]:
        one, two = (node.url for node in self.cluster.nodes)
        return one, two

    def rooms(self, server: MediaServer) -> set[int]:
        """The VideoRooms the Janus of `server` holds (private ones too: with its admin key)."""
        started = self.janus[server.url]
        answer = janus.videoroom(
            started.api_url, {"request": "list", "admin_key": started.admin_key}
        )
        return {room["room"] for room in answer["list"]}


@pytest.fixture
def pool(tmp_path, static_files) -> Iterator[Pool]:
    """Two Janus servers and two nodes, each told about both (the same list), none running
    Janus. Each test gets its own, stopped before the test's database flush: the nodes
    write on their own (the status sampler registers the listed servers every 30 s), so
    nodes that outlived the flush could leave MediaServer rows to the tests after them."""
    redis_url = os.environ.get("KREIDE_REDIS_URL")
    if not redis_url:
        pytest.skip("several nodes share Redis")
    with ExitStack() as running:
        pair = []
        for _ in range(2):
            started = start_janus()
            running.callback(janus_process.remove_config, started.config_dir)
            running.callback(started.stop)
            pair.append(started)
        servers = ",".join(
            f"{started.api_url}|{started.ws_url}|{CAPACITY}|{started.admin_key}" for started in pair
        )
        settings = {
            "KREIDE_JANUS": "off",
            "KREIDE_JANUS_URLS": servers,
            # A video page looks at the servers again after a second, not 15: the test
            # waits for a lost server to be noticed without waiting for the default interval.
            "KREIDE_VIDEO_HEALTH_SECONDS": "1",
        }
        cluster = running.enter_context(
            scale_out(
                tmp_path, database_url(), redis_url, settings=settings, static_from=static_files
            )
        )
        yield Pool(cluster, {started.api_url: started for started in pair})


def _wait_for_the_pool(session: requests.Session, base: str) -> None:
    """Until the nodes registered both servers from their list and found them healthy (a
    video page does both, at most once per KREIDE_VIDEO_HEALTH_SECONDS)."""

    def ready() -> bool:
        assert session.get(f"{base}/video/", timeout=TIMEOUT).status_code == 200
        return MediaServer.objects.filter(enabled=True, healthy=True).count() == 2

    wait_for(ready, 30, "both media servers registered and healthy")


def _open_lesson(session: requests.Session, base: str, group, title: str) -> VideoLesson:
    """A teacher starts a lesson right away through the lesson form of node `base`."""
    answer = session.post(
        f"{base}/video/",
        data={
            "group": group.pk,
            "title": title,
            "start_now": "on",
            "minutes": "45",
            "classroom_mode": "on",
        },
        headers=csrf_headers(session, base),
        timeout=TIMEOUT,
        allow_redirects=False,
    )
    assert answer.status_code == 302, answer.text[:500]
    lesson = VideoLesson.unscoped.select_related("server").get(title=title)
    # Straight to the lesson's page: the room was made (not "saved for later").
    assert answer.headers["Location"] == f"/video/{lesson.pk}/", answer.headers["Location"]
    assert lesson.status == VideoLesson.Status.LIVE and lesson.room_id
    return lesson


def _admit(session: requests.Session, base: str, lesson: VideoLesson) -> tuple[int, dict]:
    answer = session.post(
        f"{base}/video/{lesson.pk}/admit/", headers=csrf_headers(session, base), timeout=TIMEOUT
    )
    return answer.status_code, answer.json()


def test_lessons_spread_over_the_pool_and_capacity_holds_on_every_node(
    pool, world, make_group, make_user
):
    """Lessons opened through node 1 and node 2 go to the least-loaded healthy server, whose
    Janus holds the room; a full server queues joins alike through node 1, node 2 and
    HAProxy, and a place freed through one node goes to the head of the queue on another."""
    one, two = pool.nodes
    teacher_7a = signed_in(one, world.teacher_7a.username)
    teacher_7b = signed_in(two, world.teacher_7b.username)
    _wait_for_the_pool(teacher_7a, one)

    # Both servers carry nobody: the first lesson takes either; its teacher joins.
    first = _open_lesson(teacher_7a, one, world.class_7a, "Mathe 7a")
    assert _admit(teacher_7a, one, first)[0] == 200
    # Through the other node, the next lesson goes to the server that carries nobody.
    second = _open_lesson(teacher_7b, two, world.class_7b, "Physik 7b")
    assert second.server_id != first.server_id
    assert _admit(teacher_7b, two, second)[0] == 200

    # Each room exists on the Janus the database names, and only there.
    assert first.room_id in pool.rooms(first.server)
    assert second.room_id in pool.rooms(second.server)
    assert first.room_id not in pool.rooms(second.server)
    assert second.room_id not in pool.rooms(first.server)

    # The first server fills up (its teacher and two students) through both nodes ...
    extras = [make_user(world.school, groups=(world.class_7a,)) for _ in range(3)]
    students = {
        user.pk: signed_in(pool.cluster.url, user.username)
        for user in (world.student_7a, world.classmate_7a, *extras)
    }
    assert _admit(students[world.student_7a.pk], two, first)[0] == 200
    assert _admit(students[world.classmate_7a.pk], one, first)[0] == 200
    # ... and then queues the same way whichever way a join comes in.
    for user, base, position in zip(extras, [two, one, pool.cluster.url], [1, 2, 3], strict=True):
        status, body = _admit(students[user.pk], base, first)
        assert (status, body["state"], body["position"]) == (202, "waiting", position), body
    admitted = Admission.unscoped.filter(server=first.server, state=Admission.State.ADMITTED)
    assert admitted.count() == CAPACITY
    # The other server's capacity is its own: a student of 7b still gets in there.
    assert _admit(signed_in(one, world.student_7b.username), one, second)[0] == 200

    # A student leaves through node 2; the head of the queue gets the place through node 1.
    left = students[world.student_7a.pk].post(
        f"{two}/video/{first.pk}/leave/",
        headers={**csrf_headers(students[world.student_7a.pk], two), "Accept": "application/json"},
        timeout=TIMEOUT,
    )
    assert left.status_code == 200
    assert _admit(students[extras[0].pk], one, first)[0] == 200
    status, body = _admit(students[extras[1].pk], two, first)
    assert (status, body["position"]) == (202, 1)
    assert admitted.count() == CAPACITY

    # A third lesson, through node 1, goes to the server that still has room.
    class_7c = make_group(world.school, "7c")
    teacher_7c = make_user(world.school, User.Role.TEACHER, groups=(class_7c,))
    third = _open_lesson(signed_in(one, teacher_7c.username), one, class_7c, "Chemie 7c")
    assert third.server_id == second.server_id
    assert third.room_id in pool.rooms(second.server)


def test_with_one_janus_killed_new_lessons_go_to_the_other(pool, world, make_group, make_user):
    """One Janus dies: once the nodes' health check notices, lessons opened through either
    node go to the server that still runs, though the dead one carries less."""
    one, two = pool.nodes
    teacher_7a = signed_in(one, world.teacher_7a.username)
    teacher_7b = signed_in(two, world.teacher_7b.username)
    _wait_for_the_pool(teacher_7a, one)
    first = _open_lesson(teacher_7a, one, world.class_7a, "Mathe 7a")
    assert _admit(teacher_7a, one, first)[0] == 200
    survivor = first.server
    lost = MediaServer.objects.exclude(pk=survivor.pk).get()  # the least-loaded one now

    doomed = pool.janus[lost.url].process
    doomed.kill()  # SIGKILL: no goodbye
    doomed.wait()

    def noticed() -> bool:
        for base, session in ((two, teacher_7b), (one, teacher_7a)):
            assert session.get(f"{base}/video/", timeout=TIMEOUT).status_code == 200
        return not MediaServer.objects.get(pk=lost.pk).healthy

    wait_for(noticed, 30, "the nodes notice the lost media server")

    class_7c = make_group(world.school, "7c")
    teacher_7c = make_user(world.school, User.Role.TEACHER, groups=(class_7c,))
    second = _open_lesson(teacher_7b, two, world.class_7b, "Physik 7b")
    teacher_7c_session = signed_in(one, teacher_7c.username)
    third = _open_lesson(teacher_7c_session, one, class_7c, "Chemie 7c")
    assert second.server_id == third.server_id == survivor.pk
    assert {second.room_id, third.room_id} <= pool.rooms(survivor)
    # The survivor's capacity is all there is now: its rooms fill, and then joins wait.
    assert _admit(teacher_7b, two, second)[0] == 200
    assert _admit(teacher_7c_session, one, third)[0] == 200
    status, body = _admit(signed_in(two, world.student_7b.username), two, second)
    assert (status, body["state"], body["position"]) == (202, "waiting", 1), body
