"""Redis fails over under running `kreide serve`s (docs/scale-out.md): a master and a
replica, three Sentinels (redis-server in sentinel mode). One `kreide serve` reaches Redis
through HAProxy from `kreide haproxy-config --redis`, which passes its connections to
whichever server says it is the master; the other asks the Sentinels itself
(KREIDE_REDIS_URL=redis+sentinel://…). The master is killed; Sentinel promotes the replica,
and both use the new master within seconds, without a restart: the cache, and the
channel layer that carries messages to sockets."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from kreide.messenger import services as messenger
from tests.faults.conftest import (
    RedisServer,
    _stop,
    run_async,
    wait_for,
)
from tests.faults.test_redis import Student, _readiness, _signed_in_page_works
from tests.ports import free_port

pytestmark = [
    pytest.mark.slow,
    pytest.mark.district,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        shutil.which("haproxy") is None or shutil.which("redis-server") is None,
        reason="haproxy and redis-server are needed",
    ),
]


def _redis_cli(port: int, *command: str) -> str:
    return subprocess.run(
        ["redis-cli", "-p", str(port), *command], capture_output=True, text=True, timeout=10
    ).stdout.strip()


def _haproxy_redis_states(socket_path: Path) -> dict[str, str]:
    import socket

    with socket.socket(socket.AF_UNIX) as admin:
        admin.connect(str(socket_path))
        admin.sendall(b"show stat\n")
        answer = b""
        while chunk := admin.recv(65536):
            answer += chunk
    return {
        fields[1]: fields[17]
        for fields in (line.split(",") for line in answer.decode().splitlines())
        if len(fields) > 17 and fields[0] == "kreide_redis" and fields[1].startswith("redis")
    }


@pytest.fixture
def sentinel_redis(tmp_path):
    """Master, replica, three Sentinels and HAProxy; yields (master, replica, HAProxy's
    Redis URL, HAProxy's admin socket, the Sentinels' ports)."""
    processes: list[subprocess.Popen] = []
    master = RedisServer(tmp_path / "master")
    replica = RedisServer(tmp_path / "replica")
    for server in (master, replica):
        server.directory.mkdir()
    master.start()
    replica.start()
    assert _redis_cli(replica.port, "replicaof", "127.0.0.1", str(master.port)) == "OK"
    sentinels = []
    try:
        for number in range(3):
            port = free_port()
            sentinels.append(port)
            config = tmp_path / f"sentinel{number}.conf"  # Sentinel rewrites its own file
            config.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {tmp_path}\n"
                f"sentinel monitor kreide 127.0.0.1 {master.port} 2\n"
                "sentinel down-after-milliseconds kreide 1000\n"
                "sentinel failover-timeout kreide 10000\n"
            )
            processes.append(
                subprocess.Popen(
                    ["redis-server", str(config), "--sentinel"], stdout=subprocess.DEVNULL
                )
            )
        wait_for(
            lambda: "slave" in _redis_cli(sentinels[-1], "sentinel", "replicas", "kreide"),
            30,
            "Sentinel knows the replica",
        )
        run_dir = tmp_path / "haproxy"
        run_dir.mkdir()
        listen = free_port()
        config = run_dir / "haproxy.cfg"
        config.write_text(
            subprocess.run(
                [str(Path(sys.executable).parent / "kreide"), "haproxy-config"]
                + ["--listen", f"127.0.0.1:{free_port()}", "--node", "127.0.0.1:9"]
                + ["--run-dir", str(run_dir), "--maxconn", "1000"]
                + ["--redis", f"127.0.0.1:{master.port}", "--redis", f"127.0.0.1:{replica.port}"]
                + ["--redis-listen", f"127.0.0.1:{listen}"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        processes.append(
            subprocess.Popen(
                ["haproxy", "-f", str(config), "-db"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        socket_path = run_dir / "haproxy.sock"
        wait_for(
            lambda: (
                socket_path.exists()
                and _haproxy_redis_states(socket_path) == {"redis1": "UP", "redis2": "DOWN"}
            ),
            30,
            "HAProxy passes Redis connections to the master",
        )
        yield master, replica, f"redis://127.0.0.1:{listen}/0", socket_path, sentinels
    finally:
        for process in processes:
            _stop(process)
        for server in (master, replica):
            if server.process is not None:
                _stop(server.process)


def _live_message_arrives(serve, reader, writer) -> bool:
    """A socket of `reader` on `serve` receives what `writer` sends there over HTTP: the
    web worker published it on the channel layer, the real-time process was subscribed."""
    cookie = "; ".join(f"{k}={v}" for k, v in reader.session.cookies.items())
    text = f"live {uuid.uuid4().hex}"

    async def listen() -> bool:
        async with connect(
            f"{serve.realtime_url}/ws/messenger/",
            additional_headers={"Origin": serve.url, "Cookie": cookie},
            open_timeout=10,
        ) as ws:
            hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert hello["type"] == "hello" and reader.room_id in hello["rooms"]
            await asyncio.to_thread(writer.send, text)
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
                if frame["type"] == "message" and frame["message"]["text"] == text:
                    return True

    try:
        return run_async(listen())
    except (ConnectionClosed, OSError, TimeoutError):  # 4503 while Redis changed hands
        return False


def test_kreide_follows_a_redis_failover(sentinel_redis, world, kreide_serve, tmp_path):
    master, replica, redis_url, haproxy_socket, sentinels = sentinel_redis
    room = messenger.sync_group_room(world.class_7a)
    serve = kreide_serve(KREIDE_REDIS_URL=redis_url)
    hosts = ",".join(f"127.0.0.1:{port}" for port in sentinels)
    direct = kreide_serve(KREIDE_REDIS_URL=f"redis+sentinel://{hosts}/kreide/0")
    alice = Student(serve.url, world.student_7a, room.pk)
    carol = Student(direct.url, world.student_7a, room.pk)
    dave = Student(direct.url, world.classmate_7a, room.pk)
    for student in (alice, carol):
        _signed_in_page_works(student)
    alice.send("vorher")
    assert _live_message_arrives(direct, carol, dave)
    for node in (serve, direct):
        assert _readiness(node.url)[1]["checks"]["cache"] == "ok"
    assert int(_redis_cli(master.port, "dbsize")) > 0  # Kreide's keys are on the master

    master.stop()  # killed: Sentinel promotes the replica, HAProxy follows
    wait_for(
        lambda: (
            _redis_cli(sentinels[0], "sentinel", "get-master-addr-by-name", "kreide").split()
            == ["127.0.0.1", str(replica.port)]
        ),
        60,
        "Sentinel promotes the replica",
    )
    wait_for(
        lambda: _haproxy_redis_states(haproxy_socket).get("redis2") == "UP",
        30,
        "HAProxy passes connections to the new master",
    )
    for node in (serve, direct):
        wait_for(
            lambda node=node: _readiness(node.url)[1]["checks"]["cache"] == "ok",
            30,
            "Kreide uses Redis again",
        )
    keys_before = int(_redis_cli(replica.port, "dbsize"))
    bob = Student(serve.url, world.classmate_7a, room.pk)  # a sign-in: a new session cached
    _signed_in_page_works(bob)
    bob.send("nachher")
    alice.send("auch nachher")
    erin = Student(direct.url, world.student_7a, room.pk)  # cached on the new master too
    _signed_in_page_works(erin)
    assert int(_redis_cli(replica.port, "dbsize")) > keys_before  # written to the new master
    # Live delivery on `direct` runs through the new master: the old one is dead, and
    # `direct` never saw HAProxy.
    wait_for(lambda: _live_message_arrives(direct, erin, dave), 30, "live messages again")
    for student in (alice, bob, carol, dave, erin):
        _signed_in_page_works(student)
        student.check_nothing_lost()
    assert requests.get(f"{serve.url}/status", timeout=10).status_code == 200
