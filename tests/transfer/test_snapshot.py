"""The export reads one instant of the school while others keep writing."""

from __future__ import annotations

import threading

import pytest
from django.db import DatabaseError, connection, connections

from kreide.accounts.models import User
from kreide.schools.models import School
from kreide.transfer.exporter import snapshot


def _write_elsewhere(school: School) -> None:
    """A sign-up by another worker: its own connection, committed at once."""
    try:
        User.objects.create(school=school, username="neu.angemeldet")
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_snapshot_does_not_see_writes_committed_during_the_export():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite's in-memory test database has no WAL; PostgreSQL shows it")
    school = School.objects.create(name="Nord", slug="nord")
    User.objects.create(school=school, username="schon.da")

    with snapshot("default"):
        before = User.objects.for_school(school).count()
        writer = threading.Thread(target=_write_elsewhere, args=(school,))
        writer.start()
        writer.join(timeout=30)
        assert not writer.is_alive()
        during = User.objects.for_school(school).count()
        with (
            pytest.raises(DatabaseError, match="read-only transaction"),
            connection.cursor() as cursor,
        ):
            cursor.execute("UPDATE schools_school SET name = 'x'")

    assert (before, during) == (1, 1)
    assert User.objects.for_school(school).count() == 2
