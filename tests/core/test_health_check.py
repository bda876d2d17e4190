"""The PostgreSQL connection's health check without a round trip
(kreide.core.postgresql): a kept connection that PostgreSQL ended is still replaced at the
next request, a healthy one is not asked `SELECT 1`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from unittest import mock

import pytest
from django.db import connection, connections

from kreide.core.postgresql.base import _idle_and_silent
from kreide.settings import database_settings

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's health check"),
]


def test_postgresql_urls_get_kreides_backend():
    assert database_settings("postgres://kreide@db1.example/kreide")["ENGINE"] == (
        "kreide.core.postgresql"
    )
    assert database_settings("sqlite:///kreide.sqlite3")["ENGINE"] == ("django.db.backends.sqlite3")


def _own_connection():
    """A connection outside the test's transaction (which commits nothing: no NOTIFY,
    and pg_stat_activity would stay as it was at its start)."""
    return connections.create_connection("default")


@pytest.fixture
def other() -> Iterator:
    wrapper = _own_connection()
    yield wrapper
    wrapper.close()


@pytest.fixture
def kept() -> Iterator:
    """A connection of its own, kept across requests as a worker's is, at the start of
    its next request."""
    wrapper = _own_connection()
    wrapper.ensure_connection()
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        wrapper.test_pid = cursor.fetchone()[0]
    wrapper.close_if_unusable_or_obsolete()  # request_started: check at the first query
    assert wrapper.health_check_enabled and not wrapper.health_check_done
    yield wrapper
    wrapper.close()


def _first_query(wrapper) -> int:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def test_a_healthy_kept_connection_is_used_without_select_1(kept):
    with mock.patch.object(kept, "is_usable", side_effect=AssertionError("SELECT 1")):
        assert _first_query(kept) == kept.test_pid
    assert kept.health_check_done


def _ended(pid: int, other) -> None:
    with other.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        for _ in range(200):  # until PostgreSQL has let it go
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
            if not cursor.fetchone()[0]:
                return
            time.sleep(0.01)
    raise AssertionError(f"backend {pid} still there")


def test_a_connection_postgresql_ended_is_replaced_at_the_next_request(kept, other):
    _ended(kept.test_pid, other)
    with mock.patch.object(kept, "is_usable", wraps=kept.is_usable) as select_1:
        new_pid = _first_query(kept)
    assert new_pid != kept.test_pid
    select_1.assert_called_once()  # the socket told; Django's check confirmed it


def test_a_kept_connection_with_something_to_read_gets_the_select_1(kept, other):
    with kept.cursor() as cursor:
        cursor.execute("LISTEN kreide_health_check_test")
    kept.close_if_unusable_or_obsolete()
    with other.cursor() as cursor:
        cursor.execute("NOTIFY kreide_health_check_test")
    for _ in range(200):  # the notification on its way to the kept connection's socket
        if not _idle_and_silent(kept.connection.pgconn):
            break
        time.sleep(0.01)
    else:
        raise AssertionError("no notification arrived")
    with mock.patch.object(kept, "is_usable", wraps=kept.is_usable) as select_1:
        assert _first_query(kept) == kept.test_pid
    select_1.assert_called_once()
