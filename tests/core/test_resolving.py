import pytest
from django.urls import Resolver404, URLPattern, get_resolver, path
from django.urls.resolvers import URLResolver

from kreide.core import resolving
from kreide.core.resolving import KeptResolver
from tests.recording import record_calls


def _view(request, **kwargs):
    return None


_PATTERNS = [
    path("tasks/", _view, name="tasks"),
    path("tasks/<id:pk>/", _view, name="task"),
    path("files/<path:rest>", _view, name="file"),
    path("", _view, name="home"),
]


def _resolved(match) -> tuple:
    return (match.func, match.args, match.kwargs, match.url_name, match.route, match.view_name)


@pytest.fixture
def walks(monkeypatch):
    """How often the patterns were tried."""
    return record_calls(monkeypatch, URLPattern, "resolve")


def test_each_path_is_resolved_once_as_django_resolves_it(walks):
    root = URLResolver(resolving.RoutePattern(""), [KeptResolver(_PATTERNS)])
    django = URLResolver(resolving.RoutePattern(""), _PATTERNS)
    for path_ in ("tasks/", "tasks/7/", "", "tasks/7/", "tasks/"):
        assert _resolved(root.resolve(path_)) == _resolved(django.resolve(path_))
    walks.clear()
    first, second = root.resolve("tasks/7/"), root.resolve("tasks/7/")
    assert walks == []
    assert first.kwargs == {"pk": 7}
    # Each request its own match and arguments: a view changing them changes nothing kept.
    assert first is not second and first.kwargs is not second.kwargs
    first.kwargs["pk"] = 8
    assert root.resolve("tasks/7/").kwargs == {"pk": 7}


def test_a_path_that_matches_nothing_is_tried_every_time(walks):
    kept = KeptResolver(_PATTERNS)
    for _ in range(2):
        walks.clear()
        with pytest.raises(Resolver404):
            kept.resolve("nowhere/")
        assert walks
    assert "nowhere/" not in kept._kept


def test_the_table_is_bounded(monkeypatch):
    monkeypatch.setattr(resolving, "LIMIT", 2)
    kept = KeptResolver(_PATTERNS)
    for pk in range(5):
        kept.resolve(f"tasks/{pk}/")
        assert len(kept._kept) <= 2
    long_path = "files/" + "a" * resolving.LONGEST
    assert kept.resolve(long_path).kwargs == {"rest": "a" * resolving.LONGEST}
    assert long_path not in kept._kept


def test_the_site_resolves_and_reverses_through_it():
    from django.urls import resolve, reverse

    (site,) = get_resolver().url_patterns
    assert isinstance(site, KeptResolver)
    assert resolve("/").view_name == "dashboard:home"
    assert resolve(reverse("tasks:detail", args=[3])).kwargs == {"pk": 3}
    assert resolve("/tasks/3/").route == "tasks/<id:pk>/"
