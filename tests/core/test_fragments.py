"""fragments.cached_many(): several fragments in one go, each renewed by its own scopes;
bump_on_commit(): visible at once and again after the commit."""

import pytest

from kreide.core import fragments

pytestmark = pytest.mark.django_db


def _counting(value):
    calls = []

    def compute():
        calls.append(1)
        return value

    return compute, calls


def _batch(values):
    calls = []

    def compute(names):
        calls.append(sorted(names))
        return {name: values[name] for name in names}

    return compute, calls


def test_cached_many_computes_what_is_missing_in_one_call_until_a_scope_is_bumped():
    compute, calls = _batch({"one": ["a"], "two": ["b"]})
    scopes = {"one": ["scope:1"], "two": ["scope:2"]}
    assert fragments.cached_many(scopes, compute) == {"one": ["a"], "two": ["b"]}
    assert fragments.cached_many(scopes, compute) == {"one": ["a"], "two": ["b"]}
    assert calls == [["one", "two"]]
    fragments.bump("scope:2")
    assert fragments.cached_many(scopes, compute) == {"one": ["a"], "two": ["b"]}
    assert calls == [["one", "two"], ["two"]]
    # The same name and scope through cached() finds the same entry.
    single, single_calls = _counting(["x"])
    assert fragments.cached("one", ["scope:1"], single) == ["a"] and not single_calls


def test_cached_many_with_the_cache_off_computes_every_time(settings):
    settings.FRAGMENT_CACHE_ENABLED = False
    compute, calls = _batch({"x": [1]})
    fragments.cached_many({"x": ["scope:x"]}, compute)
    fragments.cached_many({"x": ["scope:x"]}, compute)
    assert len(calls) == 2


def test_bump_on_commit_bumps_now_and_after_the_commit(django_capture_on_commit_callbacks):
    compute, calls = _counting("v")
    fragments.cached("f", ["scope:f"], compute)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        fragments.bump_on_commit("scope:f")
    fragments.cached("f", ["scope:f"], compute)
    assert len(calls) == 2  # bumped at once
    assert len(callbacks) == 1
    callbacks[0]()
    fragments.cached("f", ["scope:f"], compute)
    assert len(calls) == 3  # and again after the commit
