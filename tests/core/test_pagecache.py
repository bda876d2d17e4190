import pytest
from django.core.cache import cache
from django.test import RequestFactory

from kreide.core import pagecache
from kreide.messenger.services import unread_key as messages_unread_key
from kreide.notifications.context import live_off_key
from kreide.notifications.delivery import unread_key as notifications_unread_key
from kreide.status.services import INCIDENTS_KEY
from kreide.video.services import HEALTH_KEY

pytestmark = pytest.mark.django_db


def _page_keys(user) -> set[str]:
    """The keys every page of `user` reads: the navigation's counts, the banners'."""
    return {
        messages_unread_key(user.pk),
        notifications_unread_key(user.pk),
        live_off_key(user.pk),
        HEALTH_KEY,
        INCIDENTS_KEY,
    }


def _read_together(cache_reads, keys: set[str]) -> list[list[str]]:
    """The round trips that read all of `keys` at once."""
    return [read for kind, read in cache_reads if kind == "get_many" and keys <= set(read)]


def test_a_page_reads_its_navigation_and_banner_keys_in_one_round_trip(
    world, client_for, cache_reads
):
    student = world.student_7a
    client = client_for(student)
    cache.set(messages_unread_key(student.pk), 3)
    cache.set(notifications_unread_key(student.pk), 2)
    cache.set(live_off_key(student.pk), True)
    cache_reads.clear()
    page = client.get("/tasks/").content.decode()

    page_keys = _page_keys(student)
    together = _read_together(cache_reads, page_keys)
    assert len(together) == 1
    assert not [keys for kind, keys in cache_reads if kind == "get" and set(keys) & page_keys]
    # The values reach the page as before: both counts, their sum on the menu button,
    # and no socket for a person who switched live updates off.
    assert 'Nachrichten <span class="count">3<' in page
    assert 'Benachrichtigungen <span class="count">2<' in page
    assert '<span class="count">5<' in page
    assert 'data-socket=""' in page


def test_each_value_is_handed_out_once_then_read_again(monkeypatch):
    monkeypatch.setattr(pagecache, "_key_makers", [lambda request: ["pc:a", "pc:missing"]])
    cache.set("pc:a", "first")
    cache.set("pc:other", "elsewhere")
    request = RequestFactory().get("/")
    assert pagecache.take(request, "pc:a") == "first"
    cache.set("pc:a", "written after the first render")
    assert pagecache.take(request, "pc:a") == "written after the first render"
    assert pagecache.take(request, "pc:missing", 0) == 0
    assert pagecache.take(request, "pc:other") == "elsewhere"  # not registered: the cache
    assert pagecache.take(None, "pc:other") == "elsewhere"


def test_the_dashboard_reads_the_page_keys_with_its_fragment_versions(
    world, client_for, cache_reads
):
    student = world.student_7a
    client = client_for(student)
    client.get("/")  # the class's fragments cached
    cache.set(notifications_unread_key(student.pk), 2)
    cache.delete(messages_unread_key(student.pk))
    cache_reads.clear()
    page = client.get("/").content.decode()

    page_keys = _page_keys(student)
    together = _read_together(cache_reads, page_keys)
    assert len(together) == 1
    assert any(key.startswith("fragver:") for key in together[0])
    # Nothing of the page's keys is read again: the video section and the banner share the
    # health state, and the messages section hands its count to the navigation.
    assert not [
        keys for _kind, keys in cache_reads if keys is not together[0] and set(keys) & page_keys
    ]
    assert 'Benachrichtigungen <span class="count">2<' in page
    assert cache.get(messages_unread_key(student.pk)) == 0


def test_peek_leaves_the_value_and_put_replaces_what_was_fetched(monkeypatch):
    monkeypatch.setattr(pagecache, "_key_makers", [lambda request: ["pc:a", "pc:b"]])
    cache.set("pc:a", "fetched")
    cache.set("pc:b", "fetched")
    request = RequestFactory().get("/")
    assert pagecache.peek(request, "pc:a") == "fetched"
    cache.set("pc:a", "written later")
    assert pagecache.take(request, "pc:a") == "fetched"  # one render: one value
    pagecache.put(request, "pc:b", "computed")
    assert pagecache.take(request, "pc:b") == "computed"
    assert pagecache.take(request, "pc:a") == "written later"


def test_keys_fetched_by_the_page_itself_are_handed_over(monkeypatch):
    monkeypatch.setattr(pagecache, "_key_makers", [lambda request: ["pc:a", "pc:missing"]])
    request = RequestFactory().get("/")
    keys = pagecache.unfetched(request)
    assert keys == ["pc:a", "pc:missing"]
    pagecache.fetched(request, keys, {"pc:a": "read with other keys"})
    assert pagecache.unfetched(request) == []
    cache.set("pc:missing", "written later")
    assert pagecache.take(request, "pc:a") == "read with other keys"
    assert pagecache.take(request, "pc:missing", 0) == 0  # asked once: missing


def test_with_the_fragment_cache_off_the_navigation_still_takes_the_sections_count(
    world, client_for, settings
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.FRAGMENT_CACHE_ENABLED = False
    student = world.student_7a
    client = client_for(student)
    client.get("/")
    cache.delete(messages_unread_key(student.pk))
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/").status_code == 200
    counts = [
        q["sql"] for q in queries if '"__count"' in q["sql"] and "messenger_message" in q["sql"]
    ]
    assert counts == []  # the unread section's total, not a count of its own
