from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kreide.news.models import News
from tests.visible import shows


def _dashboard_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/")
    assert response.status_code == 200
    return len(queries)


def test_dashboard_requires_login(client, db):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_dashboard_shows_groups_and_only_own_school_news(client_for, world):
    from django.utils import timezone

    News.unscoped.create(school=world.school, title="Nord-News", published_at=timezone.now())
    News.unscoped.create(school=world.other_school, title="Süd-News", published_at=timezone.now())
    page = client_for(world.student_7a).get("/").content.decode()
    assert "Nord-News" in page and "Süd-News" not in page
    assert shows(page, "7a")


def test_dashboard_queries_bounded_by_number_of_groups(client_for, world, make_group):
    client = client_for(world.teacher_7a)
    for _ in range(2):  # warm the session cache and the process's copy of the user
        client.get("/")
    baseline = _dashboard_queries(client)

    def join_new_groups(count: int, offset: int) -> int:
        for index in range(offset, offset + count):
            group = make_group(world.school, f"Kurs {index}")
            group.memberships.create(school=world.school, user=world.teacher_7a, role="teacher")
        return _dashboard_queries(client)

    # New groups renew the cached parts that depend on them (timetable, calendar, video
    # lessons, shares): loaded together, so fifteen groups cost what one costs, then cached.
    after_one = join_new_groups(1, offset=0)
    assert join_new_groups(15, offset=1) <= after_one
    assert _dashboard_queries(client) == baseline


def test_a_later_visit_writes_nothing_while_the_unread_count_is_as_cached(
    client_for, world, monkeypatch
):
    from kreide.core import fragments
    from kreide.messenger import services as messenger

    client = client_for(world.student_7a)
    client.get("/")  # the student's fragments and the navigation's count cached
    writes = []
    monkeypatch.setattr(fragments, "_write", writes.append)
    client.get("/")
    assert writes == []
    cache.set(messenger.unread_key(world.student_7a.pk), 5)  # not what the rooms say
    client.get("/")
    assert writes == [{messenger.UNREAD_SECONDS: {messenger.unread_key(world.student_7a.pk): 0}}]
