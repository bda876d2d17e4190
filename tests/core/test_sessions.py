"""Sessions: a new one is written with one INSERT outside a transaction (each sign-in), and
behaves as Django's (a colliding key raises CreateError, create() draws another)."""

import pytest
from django.contrib.sessions.backends.base import CreateError
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.db import connection

from kreide.core.sessions import SessionStore

# Outside a transaction, as a request runs: the tests' own transaction would take the
# savepoint path of Django's save().
pytestmark = pytest.mark.django_db(transaction=True)


def test_a_new_session_is_stored_in_the_database_and_the_cache():
    assert not connection.in_atomic_block
    store = SessionStore()
    store["who"] = "anna"
    store.set_expiry(3600)
    store.create()
    row = Session.objects.get(session_key=store.session_key)
    assert row.get_decoded()["who"] == "anna"
    assert abs((row.expire_date - store.get_expiry_date()).total_seconds()) < 5
    assert cache.get(store.cache_key)["who"] == "anna"
    cache.delete(store.cache_key)  # from the database alone
    assert SessionStore(store.session_key).load()["who"] == "anna"


def test_a_colliding_key_is_refused_and_another_drawn(monkeypatch):
    first = SessionStore()
    first["who"] = "anna"
    first.create()
    taken = first.session_key

    second = SessionStore(taken)
    second["who"] = "mallory"
    with pytest.raises(CreateError):
        second.save(must_create=True)

    keys = iter([taken, "k" * 32])
    monkeypatch.setattr(SessionStore, "_get_new_session_key", lambda self: next(keys))
    third = SessionStore()
    third["who"] = "bert"
    third.create()
    assert third.session_key == "k" * 32
    assert Session.objects.get(session_key=taken).get_decoded()["who"] == "anna"
    assert Session.objects.get(session_key="k" * 32).get_decoded()["who"] == "bert"
