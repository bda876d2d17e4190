"""PostgreSQL fails over under two Kreide nodes (docs/scale-out.md): a primary with a
synchronous streaming replica on free ports (Debian's postgresql-15, never the machine's
own cluster); the nodes name both hosts with target_session_attrs=read-write. The primary
dies while students send messages, the replica is promoted: the nodes find it by
themselves, every acknowledged message is there, and the students carry on."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from bench.wave.postgres_pair import PG_BIN, PostgresPair
from bench.wave.stack import BIN, scale_out
from tests.conftest import PASSWORD
from tests.deploy.messages import MessageWave
from tests.faults.conftest import signed_in, wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.district,
    pytest.mark.skipif(
        not (PG_BIN / "initdb").exists() or shutil.which("haproxy") is None,
        reason="postgresql-15 and haproxy are needed (scripts/system-packages.sh test)",
    ),
]
TIMEOUT = 15
# Many messages quickly: the flood limit is not what this tests.
NODE_SETTINGS = {"KREIDE_MESSENGER_RATE_LIMIT": "10000"}
MAKE_CLASS = f"""
from kreide.accounts.models import User
from kreide.messenger import services
from kreide.schools.models import Group, Membership, School
school = School.objects.create(name="Schule", slug="schule")
group = Group.unscoped.create(school=school, name="7a", kind=Group.Kind.CLASS)
for name in ("anna", "ben"):
    user = User.objects.create_user(username=name, password="{PASSWORD}", school=school)
    Membership.unscoped.create(school=school, group=group, user=user)
print(services.sync_group_room(group).pk)
"""


@pytest.fixture
def pair() -> PostgresPair:
    started = PostgresPair()
    try:
        started.start()
        yield started
    finally:
        started.stop()


def _room(env: dict[str, str]) -> int:
    done = subprocess.run(
        [str(BIN / "kreide"), "shell"], input=MAKE_CLASS, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split()[-1])


def test_nodes_follow_a_promoted_replica_and_lose_nothing_acknowledged(
    pair, tmp_path: Path, static_files: Path
):
    redis_url = os.environ.get("KREIDE_REDIS_URL")
    if not redis_url:
        pytest.skip("the nodes share Redis")
    with scale_out(
        tmp_path, pair.url, redis_url, settings=NODE_SETTINGS, static_from=static_files
    ) as cluster:
        room = _room(cluster.nodes[0].env)
        sessions = [signed_in(cluster.url, name) for name in ("anna", "ben")]
        wave = MessageWave(cluster.url, sessions, room, per_student=40)
        wait_for(lambda: len(wave.acknowledged) >= 15, 60, "the first acknowledged messages")
        pair.fail_over()
        wave.join()
        assert not wave.failures, wave.failures
        assert len(wave.acknowledged) == 40 * len(sessions)

        # Every acknowledged message is in the promoted database, each once.
        stored = pair.replica.sql(
            f"SELECT client_key, id FROM messenger_message WHERE room_id = {room:d}",  # noqa: S608
            pair.database,
        )
        rows = {tuple(line.split("|")) for line in stored.split()}
        assert {(key, str(message)) for key, message in wave.acknowledged} == rows
        # Both nodes serve pages from the new primary; sign-in (a write) works.
        for node in cluster.nodes:
            assert signed_in(node.url, "anna").get(f"{node.url}/", timeout=TIMEOUT).ok
        # HAProxy kept both in service: a check that failed while the primary was away
        # ("UP 1/2") is passed again, and no node was ever taken DOWN.
        both_up = {"node1": "UP", "node2": "UP"}
        wait_for(lambda: cluster.node_states() == both_up, 30, "both nodes fully UP in HAProxy")
        assert _times_taken_down(cluster) == {"node1": 0, "node2": 0}


def _times_taken_down(cluster) -> dict[str, int]:
    """HAProxy's count of UP -> DOWN transitions per node (`chkdown` in `show stat`)."""
    taken_down = {}
    for line in cluster.haproxy("show stat").splitlines():
        fields = line.split(",")
        if len(fields) > 22 and fields[0] == "kreide_nodes" and fields[1].startswith("node"):
            taken_down[fields[1]] = int(fields[22] or 0)
    return taken_down
