"""Two Kreide nodes behind HAProxy on this machine (docs/scale-out.md): each node a whole
installation (nginx + `kreide serve`), both over the test database, one Redis and one
shared file store. Any request can land on any node, and losing a node loses nothing
acknowledged."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import shutil
import threading
import time
import uuid

import pytest
import requests
from websockets.asyncio.client import connect

from bench.wave.stack import Cluster, scale_out
from kreide.core import leader
from kreide.files import services as files
from kreide.messenger import services as messenger
from tests.faults.conftest import csrf_headers, database_url, run_async, signed_in, wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        shutil.which("haproxy") is None or shutil.which("nginx") is None,
        reason="haproxy and nginx are needed (scripts/system-packages.sh test)",
    ),
]
TIMEOUT = 15
# The kill test sends many messages quickly; the flood limit is not what it tests.
NODE_SETTINGS = {"KREIDE_MESSENGER_RATE_LIMIT": "10000"}


@pytest.fixture
def cluster(tmp_path) -> Cluster:
    redis_url = os.environ.get("KREIDE_REDIS_URL")
    if not redis_url:
        pytest.skip("several nodes share Redis")
    with scale_out(tmp_path, database_url(), redis_url, settings=NODE_SETTINGS) as running:
        yield running


def _cookie(session: requests.Session) -> str:
    return "; ".join(f"{key}={value}" for key, value in session.cookies.items())


def _upload_across_nodes(session, first: str, second: str, folder: int, data: bytes) -> int:
    """Starts a tus upload through node `first`, sends half, then resumes through `second`."""
    metadata = ",".join(
        f"{key} {base64.b64encode(value.encode()).decode()}"
        for key, value in {
            "purpose": "file",
            "filename": "Referat.bin",
            "folder": str(folder),
        }.items()
    )
    created = session.post(
        f"{first}/uploads/",
        headers={
            "Tus-Resumable": "1.0.0",
            "Upload-Length": str(len(data)),
            "Upload-Metadata": metadata,
            **csrf_headers(session, first),
        },
        timeout=TIMEOUT,
    )
    assert created.status_code == 201, created.text
    path = "/uploads/" + created.headers["Location"].rstrip("/").rsplit("/", 1)[1]
    half = len(data) // 2
    patch_headers = {
        "Tus-Resumable": "1.0.0",
        "Content-Type": "application/offset+octet-stream",
        **csrf_headers(session, first),
    }
    answer = session.patch(
        f"{first}{path}",
        data=data[:half],
        headers={**patch_headers, "Upload-Offset": "0"},
        timeout=TIMEOUT,
    )
    assert answer.status_code == 204, answer.text
    # The other node knows how far the upload got, and takes the rest.
    head = session.head(f"{second}{path}", headers={"Tus-Resumable": "1.0.0"}, timeout=TIMEOUT)
    assert head.headers["Upload-Offset"] == str(half)
    answer = session.patch(
        f"{second}{path}",
        data=data[half:],
        headers={**patch_headers, "Upload-Offset": str(half), "Referer": f"{second}/"},
        timeout=TIMEOUT,
    )
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
            "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s",
            [leader.NAMESPACE, leader.lock_key("status-sample") & 0xFFFFFFFF],
        )
        return [row[0] for row in cursor.fetchall()]


def test_a_node_killed_during_a_wave_loses_nothing_acknowledged(cluster, world):
    """Both nodes run a status sampler, one samples (it holds the deployment's lock). Students
    send messages through HAProxy while that node is killed: each client repeats an
    unanswered send with the same key (as the browser does), every acknowledged message is
    stored exactly once, the other node serves everything after and its sampler takes over."""
    holders = wait_for(_sampler_lock_holders, 30, "a sampler takes the lead")
    assert len(holders) == 1
    leader_name = holders[0].rsplit(" ", 1)[1]
    leading = next(node for node in cluster.nodes if node.env["KREIDE_NODE_NAME"] == leader_name)
    survivor = next(node for node in cluster.nodes if node is not leading)
    room = messenger.sync_group_room(world.class_7a)
    students = [world.student_7a, world.classmate_7a]
    sessions = [signed_in(cluster.url, student.username) for student in students]
    acknowledged: list[int] = []
    failures: list[str] = []
    lock = threading.Lock()
    per_student = 40

    def send_all(session: requests.Session) -> None:
        for number in range(per_student):
            key = uuid.uuid4().hex
            for _attempt in range(30):  # bounded: the other node takes over within seconds
                try:
                    answer = session.post(
                        f"{cluster.url}/messages/rooms/{room.pk}/send",
                        json={"text": f"Nachricht {number}", "key": key},
                        headers=csrf_headers(session, cluster.url),
                        timeout=TIMEOUT,
                    )
                except requests.RequestException:
                    time.sleep(0.2)
                    continue
                if answer.status_code in (200, 201):  # 200: a repeat of a stored one
                    with lock:
                        acknowledged.append(answer.json()["message"]["id"])
                    break
                if answer.status_code not in (502, 503, 504):
                    with lock:
                        failures.append(f"{answer.status_code}: {answer.text[:200]}")
                    return
                time.sleep(0.2)
            else:
                with lock:
                    failures.append(f"message {number} never acknowledged")
                return

    threads = [threading.Thread(target=send_all, args=(session,)) for session in sessions]
    for thread in threads:
        thread.start()
    wait_for(lambda: len(acknowledged) >= 15, 60, "the first acknowledged messages")
    leading.kill()
    for thread in threads:
        thread.join(180)
    assert not failures, failures
    assert len(acknowledged) == per_student * len(students)
    assert len(set(acknowledged)) == len(acknowledged)

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
