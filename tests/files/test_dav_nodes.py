"""WebDAV locks with several processes or nodes: granting one (check for conflicts, then
write) waits for the school's turn, which any other process of the deployment may hold."""

import threading

import pytest
from django.db import connection
from django.test import Client

from kreide.core import leader
from tests.faults.conftest import wait_for
from tests.files.test_dav import dav

pytestmark = pytest.mark.django_db(transaction=True)
LOCK_BODY = (
    b'<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/>'
    b"</D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>"
)


def _waiting_for_advisory_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        return cursor.fetchone()[0] > 0


def test_granting_a_lock_waits_for_another_node_granting_one(files):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer at a time anyway")
    other_node = leader.Leadership("unused")._connect()  # a session of another process
    answers: list[int] = []
    try:
        with other_node.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)",
                [leader.NAMESPACE, leader.lock_key(f"dav-locks-{files.school.pk}")],
            )
            worker = threading.Thread(
                target=lambda: answers.append(
                    dav(
                        Client(), "LOCK", "7a/Arbeitsblatt.pdf", files.teacher_7a, body=LOCK_BODY
                    ).status_code
                )
            )
            worker.start()
            wait_for(_waiting_for_advisory_lock, 20, "the LOCK waits for its turn")
            assert answers == []
            cursor.execute("COMMIT")  # the other node's lock is written: now this one's turn
        worker.join(20)
    finally:
        other_node.close()
    assert answers == [200]
    # The second exclusive lock on the same file conflicts, whichever node it reaches.
    second = dav(Client(), "LOCK", "7a/Arbeitsblatt.pdf", files.teacher_7a, body=LOCK_BODY)
    assert second.status_code == 423
