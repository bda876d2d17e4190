import dataclasses
import re
from datetime import datetime, timedelta

import pytest
from django.middleware.csrf import _does_token_match
from django.utils import timezone

from kreide.dashboard import registry
from kreide.news.models import News
from kreide.video import services as video

pytestmark = pytest.mark.django_db

KEPT = ("tasks", "substitutions", "dates", "news", "video", "messenger", "groups", "files-shared")
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def _page(client) -> str:
    page = client.get("/").content.decode()
    return re.sub(r'(csrfmiddlewaretoken" value="|nonce="|X-CSRFToken": ")[^"]+', r"\1-", page)


@pytest.fixture
def renders(monkeypatch):
    """The section templates rendered for keeping, in order."""
    rendered = []
    render = registry.render_to_string

    def counted(template, context):
        rendered.append(context["item"]["section"].template)
        return render(template, context)

    monkeypatch.setattr(registry, "render_to_string", counted)
    monkeypatch.setattr(registry, "_kept", registry.KeptMarkup(tuple(registry._kept.stand_ins), 64))
    return rendered


def _soon() -> datetime:
    """Half an hour ahead, or half-way to midnight: the lesson stays one of today's (the
    section shows today's lessons) whenever the test runs."""
    now = timezone.localtime()
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return now + min(timedelta(minutes=30), (midnight - now) / 2)


def _open_lesson_for_7a(world):
    """A video lesson of class 7a whose join window is open: the join form shows."""
    lesson = video.create_lesson(
        world.teacher_7a,
        group=world.class_7a,
        title="Mathe",
        starts_at=_soon(),
        minutes=45,
    )
    video.set_join_window(world.teacher_7a, lesson, timezone.now())
    return lesson


def test_sections_the_same_for_a_class_are_rendered_once_and_show_what_they_did(
    client_for, world, make_user, renders, monkeypatch
):
    News.unscoped.create(school=world.school, title="Sportfest", published_at=timezone.now())
    _open_lesson_for_7a(world)
    classmate = make_user(world.school, "student", groups=(world.class_7a,))
    kept = _page(client_for(world.student_7a))
    assert {registry._sections[key].template for key in KEPT} <= set(renders)
    renders.clear()
    assert "Sportfest" in _page(client_for(classmate))
    assert renders == []  # the same tasks, dates, changes and news: kept

    # Rendered in the page as before, byte for byte.
    for key in KEPT:
        monkeypatch.setitem(
            registry._sections, key, dataclasses.replace(registry._sections[key], kept=None)
        )
    assert _page(client_for(world.student_7a)) == kept


def test_what_a_section_shows_is_its_key(client_for, world, renders):
    client = client_for(world.student_7a)
    client.get("/")
    renders.clear()
    News.unscoped.create(school=world.school, title="Neu", published_at=timezone.now())
    assert "Neu" in client.get("/").content.decode()
    assert renders == ["news/section.html"]
    renders.clear()
    client.cookies["django_language"] = "en"
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "All news" in page and "Alle Nachrichten" not in page
    assert "news/section.html" in renders  # kept per language


def test_a_kept_form_carries_the_requests_own_token(client_for, world, renders):
    lesson = _open_lesson_for_7a(world)
    for user in (world.student_7a, world.classmate_7a):  # rendered once, kept for the second
        client = client_for(user)
        page = client.get("/").content.decode()
        join_form = page.split(f'action="/video/{lesson.pk}/join/"', 1)[1]
        tokens = [TOKEN.search(join_form).group(1), *TOKEN.findall(page)]
        assert all(_does_token_match(token, client.cookies["csrftoken"].value) for token in tokens)
    assert renders.count("video/section.html") == 1
