"""Two Kreide nodes behind HAProxy on this machine (docs/scale-out.md): each node a whole
installation (nginx + `kreide serve`), both over the test database, one Redis and one
shared file store. Any request can land on any node, and losing a node loses nothing
acknowledged."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import threading
import uuid
from contextlib import ExitStack
from pathlib import Path

import pytest
import requests
from websockets.asyncio.client import connect

from bench.wave.stack import Cluster, scale_out
from kreide.core import leader
from kreide.files import services as files
from kreide.messenger import services as messenger
from tests.deploy import uploads
from tests.deploy.messages import MessageWave
from tests.faults.conftest import (
    csrf_headers,
    database_url,
    run_async,
    signed_in,
    wait_for,
)
from tests.faults.conftest import kreide as run_kreide

pytestmark = [
    pytest.mark.slow,
    pytest.mark.district,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        shutil.which("haproxy") is None or shutil.which("nginx") is None,
        reason="haproxy and nginx are needed (scripts/system-packages.sh test)",
    ),
]
TIMEOUT = 15
# The kill test sends many messages quickly; the flood limit is not what it tests.
NODE_SETTINGS = {"KREIDE_MESSENGER_RATE_LIMIT": "10000"}


class SharedCluster:
    """One cluster for this module's tests (starting one costs two node starts, HAProxy and
    its checks). A test that leaves it changed (a node killed, new code) discards it; the
    next test that asks gets a new one."""

    def __init__(self, work_dir: Path, static_files: Path) -> None:
        self.work_dir, self.static_files = work_dir, static_files
        self.started = 0
        self._running: ExitStack | None = None
        self._cluster: Cluster | None = None

    def get(self) -> Cluster:
        if self._cluster is None:
            redis_url = os.environ.get("KREIDE_REDIS_URL")
            if not redis_url:
                pytest.skip("several nodes share Redis")
            self.started += 1
            self._running = ExitStack()
            self._cluster = self._running.enter_context(
                scale_out(
                    self.work_dir / f"cluster{self.started}",
                    database_url(),
                    redis_url,
                    settings=NODE_SETTINGS,
                    static_from=self.static_files,
                )
            )
        return self._cluster

    def discard(self) -> None:
        if self._running is not None:
            self._running.close()
        self._running = self._cluster = None


@pytest.fixture(scope="module")
def clusters(tmp_path_factory, static_files) -> SharedCluster:
    shared = SharedCluster(tmp_path_factory.mktemp("scale-out"), static_files)
    yield shared
    shared.discard()


@pytest.fixture
def cluster(clusters, django_db_setup) -> Cluster:
    return clusters.get()


@pytest.fixture
def spent_cluster(clusters, django_db_setup) -> Cluster:
    """The shared cluster for a test that changes it: discarded after the test."""
    yield clusters.get()
    clusters.discard()


def _cookie(session: requests.Session) -> str:
    return "; ".join(f"{key}={value}" for key, value in session.cookies.items())


def _upload_across_nodes(session, first: str, second: str, folder: int, data: bytes) -> int:
    """Starts a tus upload through node `first`, sends half, then resumes through `second`."""
    created = uploads.create(session, first, folder, len(data))
    assert created.status_code == 201, created.text
    path = uploads.path_of(created)
    half = len(data) // 2
    answer = uploads.send(session, first, path, 0, data[:half])
    assert answer.status_code == 204, answer.text
    # The other node knows how far the upload got, and takes the rest.
    assert uploads.offset(session, second, path) == half
    answer = uploads.send(session, second, path, half, data[half:])
    assert answer.status_code == 204, answer.text
    return json.loads(answer.headers["Kreide-Upload-Result"])["id"]


def test_any_request_on_any_node(cluster, world, tmp_path):
    """A session continues on the other node; an upload started on node 1 finishes on node 2
    with the right SHA-256, and every node's nginx sends it from the shared store; two
    messenger clients on different nodes talk; HAProxy spreads the requests."""
    one, two = (node.url for node in cluster.nodes)
    alice = signed_in(one, world.student_7a.username)
    page = alice.get(f"{two}/", timeout=TIMEOUT, allow_redirects=False)
    assert page.status_code == 200 and world.student_7a.first_name in page.text
    assert alice.get(f"{cluster.url}/files/", timeout=TIMEOUT).status_code == 200

    data = os.urandom(3 * 1024 * 1024 + 17)
    folder = files.root_of(files.personal_space(world.student_7a)).pk
    file_id = _upload_across_nodes(alice, one, two, folder, data)
    for base in (one, two, cluster.url):
        download = alice.get(f"{base}/files/item/{file_id}/download", timeout=TIMEOUT)
        assert download.status_code == 200
        assert hashlib.sha256(download.content).hexdigest() == hashlib.sha256(data).hexdigest()
        # A range answer: nginx sent the bytes (X-Accel-Redirect), not a Python worker.
        part = alice.get(
            f"{base}/files/item/{file_id}/download",
            headers={"Range": "bytes=100-199"},
            timeout=TIMEOUT,
        )
        assert part.status_code == 206 and part.content == data[100:200]

    room = messenger.sync_group_room(world.class_7a)
    bob = signed_in(two, world.classmate_7a.username)
    text = f"Hallo über zwei Knoten {uuid.uuid4().hex}"

    async def talk() -> dict:
        sockets = []
        for base, session in ((one, alice), (two, bob)):
            ws = await connect(
                f"ws{base[4:]}/ws/messenger/",
                additional_headers={"Origin": base, "Cookie": _cookie(session)},
                open_timeout=TIMEOUT,
            )
            hello = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
            assert hello["type"] == "hello" and room.pk in hello["rooms"]
            sockets.append(ws)
        alice_ws, bob_ws = sockets
        try:
            await alice_ws.send(
                json.dumps({"type": "send", "room": room.pk, "text": text, "key": uuid.uuid4().hex})
            )
            while True:
                frame = json.loads(await asyncio.wait_for(bob_ws.recv(), TIMEOUT))
                if frame.get("type") == "message":
                    return frame["message"]
        finally:
            for ws in sockets:
                await ws.close()

    received = run_async(talk())
    assert received["text"] == text and received["room"] == room.pk

    async def through_haproxy() -> dict:
        async with connect(
            f"ws{cluster.url[4:]}/ws/messenger/",
            additional_headers={"Origin": cluster.url, "Cookie": _cookie(alice)},
            open_timeout=TIMEOUT,
        ) as ws:
            await ws.send(json.dumps({"type": "sync", "room": room.pk, "after": 0}))
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
                if frame["type"] == "sync":
                    return frame

    # The WebSocket upgrade passes HAProxy too; a socket there catches up on the message.
    caught_up = run_async(through_haproxy())
    assert received["id"] in [message["id"] for message in caught_up["messages"]]

    # Through HAProxy the requests reach both nodes (least connections, no stickiness).
    before = _sessions_per_node(cluster)
    for _ in range(20):
        assert alice.get(f"{cluster.url}/", timeout=TIMEOUT).status_code == 200
    after = _sessions_per_node(cluster)
    assert all(after[name] > before[name] for name in after), (before, after)


def _sessions_per_node(cluster: Cluster) -> dict[str, int]:
    counts = {}
    for line in cluster.haproxy("show stat").splitlines():
        fields = line.split(",")
        if fields[0] == "kreide_nodes" and fields[1].startswith("node"):
            counts[fields[1]] = int(fields[7])  # stot: sessions in total
    return counts


def _sampler_lock_holders() -> list[str]:
    """application_name of the sessions holding the sampler's advisory lock."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s "
            # Advisory locks are per database: other deployments on this server have their own.
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            [leader.NAMESPACE, leader.lock_key("status-sample") & 0xFFFFFFFF],
        )
        return [row[0] for row in cursor.fetchall()]


def test_a_node_killed_during_a_wave_loses_nothing_acknowledged(spent_cluster, world):
    """Both nodes run a status sampler, one samples (it holds the deployment's lock). Students
    send messages through HAProxy while that node is killed: each client repeats an
    unanswered send with the same key (as the browser does), every acknowledged message is
    stored exactly once, the other node serves everything after and its sampler takes over."""
    cluster = spent_cluster
    holders = wait_for(_sampler_lock_holders, 30, "a sampler takes the lead")
    assert len(holders) == 1
    leader_name = holders[0].rsplit(" ", 1)[1]
    leading = next(node for node in cluster.nodes if node.env["KREIDE_NODE_NAME"] == leader_name)
    survivor = next(node for node in cluster.nodes if node is not leading)
    room = messenger.sync_group_room(world.class_7a)
    students = [world.student_7a, world.classmate_7a]
    sessions = [signed_in(cluster.url, student.username) for student in students]
    per_student = 40
    wave = MessageWave(cluster.url, sessions, room.pk, per_student)
    wait_for(lambda: len(wave.acknowledged) >= 15, 60, "the first acknowledged messages")
    leading.kill()
    wave.join()
    assert not wave.failures, wave.failures
    acknowledged = [message for _key, message in wave.acknowledged]
    assert len(acknowledged) == len(set(acknowledged)) == per_student * len(students)

    # Stored exactly once each: no repeated send made a second message.
    listing = (
        sessions[0]
        .get(f"{cluster.url}/messages/rooms/{room.pk}/messages?after=0", timeout=TIMEOUT)
        .json()
    )
    stored = [message["id"] for message in listing["messages"]]
    assert set(acknowledged) <= set(stored)
    assert len(stored) == len(set(stored)) == per_student * len(students)
    wait_for(lambda: cluster.node_states().get(leader_name) == "DOWN", 30, "HAProxy: node down")
    assert sessions[1].get(f"{cluster.url}/files/", timeout=TIMEOUT).status_code == 200
    holders = wait_for(
        lambda: [holder for holder in _sampler_lock_holders() if not holder.endswith(leader_name)],
        30,
        "the other node's sampler takes over",
    )
    assert holders == [f"kreide status-sample {survivor.env['KREIDE_NODE_NAME']}"]
    assert requests.get(f"{cluster.url}/status", timeout=TIMEOUT).status_code == 200


NEXT_RELEASE = {
    "DJANGO_SETTINGS_MODULE": "tests.deploy.next_release.settings",
    "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
}


def _upgrade(cluster: Cluster, node, answers: list[int]) -> None:
    """One node's turn: drain, out of rotation, restarted on the next release, back in."""
    name = node.env["KREIDE_NODE_NAME"]
    node.kreide("drain")
    wait_for(lambda: cluster.node_states()[name] == "DOWN", 30, f"{name} out of rotation")
    served_before = len(answers)
    wait_for(lambda: len(answers) > served_before + 4, 30, "the other node serving")
    node.env.update(NEXT_RELEASE)
    node.restart_server()
    wait_for(lambda: cluster.node_states()[name] == "UP", 60, f"{name} back in rotation")
    assert requests.get(f"{node.url}/readyz", timeout=TIMEOUT).status_code == 200


def _stored_by() -> set[str | None]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT stored_by_node FROM messenger_message")
        return {row[0] for row in cursor.fetchall()}


def test_a_rolling_upgrade_across_a_schema_change_drops_no_request(clusters, spent_cluster, world):
    """docs/scale-out.md's upgrade procedure while a student keeps working through HAProxy
    without ever repeating a request: the next release's migration (it adds a column to the
    messages table) runs under the old code; then node by node `kreide drain` (readyz 503),
    HAProxy takes the node out, `kreide serve` restarts on the new code (which reads and
    writes the column), the node comes back by itself. Not one request fails, and for a
    while old and new code serve side by side on the one schema."""
    cluster = spent_cluster
    room = messenger.sync_group_room(world.class_7a)
    session = signed_in(cluster.url, world.student_7a.username)
    answers: list[int] = []
    errors: list[str] = []
    done = threading.Event()

    def work() -> None:
        number = 0
        while not done.is_set():
            number += 1
            try:
                page = session.get(f"{cluster.url}/", timeout=TIMEOUT, allow_redirects=False)
                sent = session.post(
                    f"{cluster.url}/messages/rooms/{room.pk}/send",
                    json={"text": f"Während des Updates {number}", "key": uuid.uuid4().hex},
                    headers=csrf_headers(session, cluster.url),
                    timeout=TIMEOUT,
                )
            except requests.RequestException as error:
                errors.append(repr(error))
                continue
            answers.extend((page.status_code, sent.status_code))
            if page.status_code != 200 or sent.status_code != 201:
                errors.append(f"{page.status_code} / {sent.status_code}")

    new_code = {**cluster.nodes[0].env, **NEXT_RELEASE}
    worker = threading.Thread(target=work)
    worker.start()
    try:
        run_kreide(new_code, "migrate", "next_release", "-v0")  # from any node, new code
        migrated_at = len(answers)
        wait_for(lambda: len(answers) > migrated_at + 4, 30, "old code on the new schema")
        for node in cluster.nodes:
            _upgrade(cluster, node, answers)
        stored = _stored_by()
    finally:
        done.set()
        worker.join(60)
        clusters.discard()  # its nodes run the next release now
        run_kreide(new_code, "migrate", "next_release", "zero", "-v0")
    assert errors == []
    assert len(answers) > 20
    # Old code stored messages on the new schema (the column empty), and new code
    # stored its node's name.
    assert {None, "node1"} <= stored
