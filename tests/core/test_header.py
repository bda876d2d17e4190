"""The site header, rendered once per what it shows: each request still gets its own
name, CSRF token, address and language."""

import re

import pytest
from django.test import Client
from django.utils.html import escape

pytestmark = pytest.mark.django_db

LOGOUT_TOKEN = re.compile(
    r'action="/accounts/logout/" class="inline"><input type="hidden" '
    r'name="csrfmiddlewaretoken" value="([^"]+)"'
)


def _client(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def _account(page: str) -> str:
    return page.split('<span class="account-name">', 1)[1].split("</span>", 1)[0]


def test_each_user_of_a_class_gets_their_own_name_and_a_token_that_works(world):
    first, second = _client(world.student_7a), _client(world.classmate_7a)
    first_page = first.get("/tasks/").content.decode()
    second_page = second.get("/tasks/").content.decode()

    assert _account(first_page) == world.student_7a.get_full_name()
    assert _account(second_page) == world.classmate_7a.get_full_name()
    # The second student's header came from the kept one: their token signs them out.
    token = LOGOUT_TOKEN.search(second_page).group(1)
    assert second.post("/accounts/logout/", {"csrfmiddlewaretoken": token}).status_code == 302
    assert second.get("/tasks/").status_code == 302  # signed out: sent to the sign-in page
    assert first.get("/tasks/").status_code == 200


def test_the_address_to_return_to_is_the_pages_own_and_escaped(world):
    client = _client(world.student_7a)
    for path in ("/tasks/?q=%3Cb%3E%22", "/messages/"):
        response = client.get(path)
        expected = escape(response.wsgi_request.get_full_path())
        assert f'<input type="hidden" name="next" value="{expected}">' in response.content.decode()


def test_a_name_is_escaped_and_the_language_followed(world):
    world.student_7a.first_name = "<i>Ada</i>"
    world.student_7a.save(update_fields=["first_name"])
    client = _client(world.student_7a)
    german = client.get("/tasks/").content.decode()
    assert _account(german).startswith("&lt;i&gt;Ada&lt;/i&gt; ")
    assert ">Abmelden</button>" in german
    english = client.get("/tasks/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert ">Sign out</button>" in english and ">Abmelden</button>" not in english


# base.html's live bell script before it was kept (kreide_header.live_script).
LIVE_SCRIPT = (
    "{% load static i18n %}{% if notifications_live %}<script "
    "src=\"{% static 'notifications/js/live.js' %}\" defer "
    'data-socket="{{ notifications_live.socket }}" '
    'data-count-url="{{ notifications_live.count_url }}" '
    'data-list-url="{{ notifications_live.list_url }}" '
    'data-new-label="{% translate "new" %}"></script>{% endif %}'
)


def test_the_live_script_is_rendered_as_the_template_would_and_follows_its_values(
    world, monkeypatch
):
    from django.template import engines
    from django.utils import translation

    client = _client(world.student_7a)
    fresh = engines["django"].from_string(LIVE_SCRIPT)
    for socket in ("", 'wss://kreide.example/ws/notifications/?a="b"&c'):
        monkeypatch.setattr(
            "kreide.notifications.context.socket_url", lambda request, socket=socket: socket
        )
        for language, label in (("de", "neu"), ("en", "new")):
            response = client.get("/tasks/", HTTP_ACCEPT_LANGUAGE=language)
            live = response.context["notifications_live"]
            assert live["socket"] == socket
            with translation.override(language):
                expected = fresh.render({"notifications_live": live})
            assert f'data-new-label="{label}"' in expected
            assert f'data-socket="{escape(socket)}"' in expected
            assert expected in response.content.decode()
