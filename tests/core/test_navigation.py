import pytest
from django.urls import set_script_prefix

pytestmark = pytest.mark.django_db


def _nav(page: str) -> str:
    return page.split('<nav class="main-nav"', 1)[1].split("</nav>", 1)[0]


def test_navigation_is_translated_and_marks_the_current_page(world, client_for):
    client = client_for(world.student_7a)
    german = _nav(client.get("/tasks/").content.decode())
    assert '<a href="/tasks/" aria-current="page">Aufgaben</a>' in german
    assert '<a href="/">Übersicht</a>' in german
    english = _nav(client.get("/tasks/", HTTP_ACCEPT_LANGUAGE="en").content.decode())
    assert '<a href="/tasks/" aria-current="page">Tasks</a>' in english
    assert '<a href="/">Overview</a>' in english
    # Visibility stays a question per request: a teacher sees their classes, a student not.
    assert "/accounts/my-classes/" not in german
    assert "/accounts/my-classes/" in _nav(client_for(world.teacher_7a).get("/").content.decode())


def test_links_reversed_once_still_follow_the_script_prefix(world, client_for):
    """Kreide served under a path (SCRIPT_NAME) links under that path, and only there."""
    client = client_for(world.student_7a)
    # As Django's WSGI handler does for each request (the test client does not).
    set_script_prefix("/schule/")
    try:
        prefixed = client.get("/tasks/", SCRIPT_NAME="/schule").content.decode()
    finally:
        set_script_prefix("/")
    assert '<a href="/schule/tasks/" aria-current="page">' in prefixed
    assert 'action="/schule/accounts/logout/"' in prefixed
    plain = client.get("/tasks/").content.decode()
    assert '<a href="/tasks/" aria-current="page">' in plain
    assert 'action="/accounts/logout/"' in plain and "/schule/" not in plain


def test_links_with_arguments_are_kept_per_argument_and_prefix():
    from django.urls import reverse

    from kreide.core.navigation import fixed_url

    assert fixed_url("messenger:send", 3) == reverse("messenger:send", args=[3])
    assert (
        fixed_url("messenger:send", 4)
        == reverse("messenger:send", args=[4])
        != fixed_url("messenger:send", 3)
    )
    unprefixed = reverse("messenger:send", args=[3])
    set_script_prefix("/schule/")
    try:
        assert fixed_url("messenger:send", 3) == "/schule" + unprefixed
    finally:
        set_script_prefix("/")
