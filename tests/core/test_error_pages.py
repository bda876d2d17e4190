"""Error pages come in Kreide's layout and the user's language, with a way back."""

import pytest
from django.test import Client, override_settings
from django.urls import include, path

from kreide.urls import handler500  # noqa: F401 - this test urlconf answers errors like Kreide's


def _explode(request):
    raise RuntimeError("boom")


urlpatterns = [path("explode", _explode), path("", include("kreide.urls"))]


def _assert_kreide_page(response, status: int, heading: str) -> str:
    body = response.content.decode()
    assert response.status_code == status
    assert "kreide/css/kreide.css" in body
    assert f"<h1>{heading}</h1>" in body
    assert 'href="/"' in body  # back to the start page
    return body


@pytest.mark.django_db
def test_404_is_german_by_default_and_english_on_request(client):
    body = _assert_kreide_page(client.get("/no/such/page/"), 404, "Seite nicht gefunden")
    assert "Zur Startseite" in body
    english = client.get("/no/such/page/", HTTP_ACCEPT_LANGUAGE="en")
    _assert_kreide_page(english, 404, "Page not found")


def test_404_for_a_signed_in_user_keeps_the_navigation(client_for, world):
    body = _assert_kreide_page(
        client_for(world.student_7a).get("/tasks/999999/"), 404, "Seite nicht gefunden"
    )
    assert 'aria-label="Hauptnavigation"' in body


def test_403_is_styled(client_for, world):
    _assert_kreide_page(client_for(world.teacher_7a).get("/schedule/"), 403, "Nicht erlaubt")


@pytest.mark.django_db
def test_expired_form_explains_itself():
    response = Client(enforce_csrf_checks=True).post("/accounts/login/", {"username": "x"})
    _assert_kreide_page(response, 403, "Das Formular ist abgelaufen")


@pytest.mark.django_db
@override_settings(ROOT_URLCONF=__name__)
def test_500_is_styled():
    response = Client(raise_request_exception=False).get("/explode")
    body = _assert_kreide_page(response, 500, "Etwas ist schiefgelaufen")
    assert "nicht verloren" in body


def test_too_many_and_unavailable_in_a_browser_are_kreide_pages(world):
    """429 and 503 outside nginx (a refusal no view turned into JSON) come in the layout,
    in German, with Retry-After and a way back."""
    from django.test import RequestFactory
    from django.utils import translation

    from kreide.core.errors import Refusal, refusal_response

    request = RequestFactory().get("/messages/", HTTP_ACCEPT="text/html")
    request.user = world.student_7a
    for status in (429, 503):
        with translation.override("de"):
            response = refusal_response(
                request, Refusal("Bitte kurz warten.", status=status, retry_after=30)
            )
        body = _assert_kreide_page(response, status, "Das geht nicht")
        assert "Bitte kurz warten." in body and response["Retry-After"] == "30"
