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


def test_an_operators_edit_in_the_admin_shows_on_the_dashboard(
    world, client_for, make_user, django_capture_on_commit_callbacks
):
    """Which rows feed which cached scopes is declared once: writes from /operator/ (which
    call no service) and queryset updates invalidate too."""
    from datetime import timedelta

    from django.utils import timezone

    from kreide.schools.models import Group
    from kreide.video import services as video
    from kreide.video.models import VideoLesson

    video.create_lesson(
        world.teacher_7a,
        group=world.class_7a,
        title="Bio",
        starts_at=timezone.now() + timedelta(minutes=1),
        minutes=45,
    )
    student = client_for(world.student_7a)
    assert "Bio · 7a" in " ".join(student.get("/").content.decode().split())  # cached now
    operator = client_for(make_user(None, username="betrieb", is_staff=True, is_superuser=True))
    with django_capture_on_commit_callbacks(execute=True):
        changed = operator.post(
            f"/operator/schools/group/{world.class_7a.pk}/change/",
            {
                "school": world.school.pk,
                "name": "7x",
                "kind": "class",
                "grade": 7,
                "is_active": "on",
            },
        )
    assert changed.status_code == 302, changed.content
    assert "Bio · 7x" in " ".join(student.get("/").content.decode().split())
    with django_capture_on_commit_callbacks(execute=True):
        VideoLesson.unscoped.filter(title="Bio").update(title="Chemie")
    assert "Chemie · 7x" in " ".join(student.get("/").content.decode().split())
    with django_capture_on_commit_callbacks(execute=True):
        Group.unscoped.filter(pk=world.class_7a.pk).update(name="7y")
    assert "Chemie · 7y" in " ".join(student.get("/").content.decode().split())


class _CountingCache:
    """The cache as fragments sees it, recording the keys each read asks for."""

    def __init__(self, cache):
        self._cache = cache
        self.asked: list[str] = []
        self.trips: list[list[str]] = []

    def get_many(self, keys):
        self.asked.extend(keys)
        self.trips.append(list(keys))
        return self._cache.get_many(keys)

    def counting_at_once(self, monkeypatch):
        """Also count fragments' one round trip for versions and entries (Redis)."""
        read_at_once = fragments._read_at_once

        def counted(client, prefix, keys, arguments):
            values, entry_keys, entry_values = read_at_once(client, prefix, keys, arguments)
            self.asked.extend([*keys, *entry_keys])
            self.trips.append([*keys, *entry_keys])
            return values, entry_keys, entry_values

        monkeypatch.setattr(fragments, "_read_at_once", counted)

    def __getattr__(self, name):
        return getattr(self._cache, name)


def _reads_counted(monkeypatch) -> _CountingCache:
    """fragments.cache wrapped to record what each round trip asks for."""
    counting = _CountingCache(fragments.cache)
    monkeypatch.setattr(fragments, "cache", counting)
    counting.counting_at_once(monkeypatch)
    return counting


def _dashboard_again(client, monkeypatch) -> _CountingCache:
    """The dashboard's second visit (its fragments cached by the first), counted."""
    client.get("/")
    counting = _reads_counted(monkeypatch)
    assert client.get("/").status_code == 200
    return counting


def test_a_dashboard_reads_each_version_and_entry_once(client_for, world, monkeypatch):
    counting = _dashboard_again(client_for(world.student_7a), monkeypatch)
    # The calendar's free days and its events both depend on the school's calendar scope.
    assert counting.asked.count(f"fragver:school:{world.school.pk}:calendar") == 1
    assert len(counting.asked) == len(set(counting.asked))
    # The sections declare their scopes: all versions come in one round trip.
    version_trips = [keys for keys in counting.trips if keys[0].startswith("fragver:")]
    assert len(version_trips) == 1
    assert {
        f"fragver:group:{world.class_7a.pk}:tasks",
        f"fragver:school:{world.school.pk}:news",
    } <= set(version_trips[0])


def test_with_redis_a_dashboard_reads_versions_and_entries_in_one_round_trip(
    client_for, world, monkeypatch
):
    if not hasattr(getattr(fragments.cache, "client", None), "get_client"):
        pytest.skip("Redis makes the entries' keys from the versions it reads")
    counting = _dashboard_again(client_for(world.student_7a), monkeypatch)
    [trip] = [keys for keys in counting.trips if any(k.startswith("frag") for k in keys)]
    school, group = world.school.pk, world.class_7a.pk
    assert f"fragver:group:{group}:tasks" in trip
    assert any(key.startswith(f"frag:tasks:{school}:group:{group}:") for key in trip)


def test_a_first_visit_reads_the_sections_entries_at_once_and_writes_them_at_once(
    client_for, world, make_user, monkeypatch
):
    client_for(make_user(world.school, "student", groups=(world.class_7a,))).get("/")
    client = client_for(world.student_7a)
    counting = _reads_counted(monkeypatch)
    writes = []
    monkeypatch.setattr(fragments, "_write", lambda held: writes.append(held))
    monkeypatch.setattr(counting, "set_many", lambda *args: pytest.fail(f"set_many{args}"))
    assert client.get("/").status_code == 200  # nothing of the student's is cached
    school, user, group = world.school.pk, world.student_7a.pk, world.class_7a.pk
    # The class's and the school's entries (cached by a classmate's visit) in one round
    # trip; the student's own are in it too or, under versions just set, not asked for.
    entries = [keys for keys in counting.trips if any(k.startswith("frag:") for k in keys)]
    assert len(entries) == 1
    classes = [f"frag:tasks:{school}:group:{group}:", f"frag:calendar:owners:{school}:"]
    assert all(any(k.startswith(p) for k in entries[0]) for p in [*classes, "frag:news:"])
    own = [
        f"frag:{name}:"
        for name in (
            f"tasks:{school}:student:{user}",
            f"shares:{school}:user:{user}",
            f"video:{school}:teacher:{user}",
        )
    ]
    assert len(writes) == 1  # versions and entries of every section, one pipeline
    written = set().union(*writes[0].values())
    assert f"fragver:user:{user}:tasks" in written
    assert {p for p in own if any(k.startswith(p) for k in written)} == set(own)


def test_a_batch_writes_when_it_ends_and_a_bump_at_once():
    compute, calls = _counting("value")
    token = fragments._memo.set({})
    try:
        with fragments.batch():
            assert fragments.cached("held", ["scope:held"], compute, timeout=60) == "value"
            assert fragments.cached("held", ["scope:held"], compute) == "value"  # the memo
            assert fragments.cache.get("fragver:scope:held") is None  # not written yet
            fragments.bump("scope:bumped")
            assert fragments.cache.get("fragver:scope:bumped") is not None
        version = fragments.cache.get("fragver:scope:held")
        assert fragments.cache.get(f"frag:held:scope:held@{version}") == "value"
    finally:
        fragments._memo.reset(token)
    assert calls == [1]


def test_a_bump_in_the_request_is_what_the_request_reads_next(client_for, world, monkeypatch):
    compute, calls = _counting("value")
    token = fragments._memo.set({})
    try:
        assert fragments.cached("memo", ["scope:memo"], compute) == "value"
        assert fragments.cached("memo", ["scope:memo"], compute) == "value"
        assert calls == [1]
        fragments.bump("scope:memo")
        assert fragments.cached("memo", ["scope:memo"], compute) == "value"
        assert calls == [1, 1]
    finally:
        fragments._memo.reset(token)


def test_a_model_whose_update_would_go_unnoticed_cannot_feed_fragments():
    from django.core.exceptions import ImproperlyConfigured

    from kreide.notifications.models import VapidKey  # a plain manager

    with pytest.raises(ImproperlyConfigured, match="FeedingQuerySet"):
        fragments.feeds(VapidKey, lambda key: ["scope:vapid"])
    assert not fragments.is_fed_by(VapidKey)
