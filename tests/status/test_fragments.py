from django.utils import timezone

from kreide.core import fragments
from kreide.news.dashboard import news
from kreide.news.models import News


def test_fragment_is_reused_until_its_scope_is_bumped():
    calls = []

    def compute() -> list[int]:
        calls.append(1)
        return [len(calls)]

    assert fragments.cached("part", ["group:1:tasks", "school:1"], compute) == [1]
    assert fragments.cached("part", ["group:1:tasks", "school:1"], compute) == [1]
    fragments.bump("group:2:tasks")  # another group's change leaves this fragment alone
    assert fragments.cached("part", ["group:1:tasks", "school:1"], compute) == [1]
    fragments.bump("school:1")
    assert fragments.cached("part", ["group:1:tasks", "school:1"], compute) == [2]


def test_fragment_cache_off_computes_every_time(settings):
    settings.FRAGMENT_CACHE_ENABLED = False
    assert fragments.cached("part", ["s"], lambda: 1) == 1
    assert fragments.cached("part", ["s"], lambda: 2) == 2


def test_dashboard_news_cached_and_renewed_when_news_changes(
    rf, world, django_assert_num_queries, django_capture_on_commit_callbacks
):
    request = rf.get("/")
    request.user = world.student_7a
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        News.unscoped.create(school=world.school, title="Alte Nachricht", published_at=now)
    # The request's groups (shared with every section), the news and their groups.
    with django_assert_num_queries(3):
        assert [a.title for a in news(request)["news_items"]] == ["Alte Nachricht"]
    with django_assert_num_queries(0):  # every further student of the school: from the cache
        assert [a.title for a in news(request)["news_items"]] == ["Alte Nachricht"]
    with django_capture_on_commit_callbacks(execute=True):
        News.unscoped.create(school=world.school, title="Hitzefrei", published_at=now)
        News.unscoped.create(school=world.other_school, title="Andere Schule", published_at=now)
    titles = {a.title for a in news(request)["news_items"]}
    assert titles == {"Alte Nachricht", "Hitzefrei"}
    with django_capture_on_commit_callbacks(execute=True):
        News.unscoped.filter(title="Hitzefrei").get().delete()
    assert [a.title for a in news(request)["news_items"]] == ["Alte Nachricht"]
