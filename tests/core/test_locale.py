import pytest
from django.conf import settings
from django.http import HttpResponse
from django.middleware.locale import LocaleMiddleware as DjangoLocaleMiddleware
from django.test import RequestFactory
from django.utils import translation

from kreide.core.middleware import LocaleMiddleware


def _answer(middleware_class, **headers):
    seen = {}

    def view(request):
        seen["language"] = request.LANGUAGE_CODE
        return HttpResponse("ok")

    request = RequestFactory().get("/tasks/", **headers)
    with translation.override(None):
        response = middleware_class(view)(request)
    return seen["language"], response.get("Vary"), response.get("Content-Language")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"HTTP_ACCEPT_LANGUAGE": "en-GB,en;q=0.9"},
        {"HTTP_ACCEPT_LANGUAGE": "fr"},
        {"HTTP_COOKIE": f"{settings.LANGUAGE_COOKIE_NAME}=en", "HTTP_ACCEPT_LANGUAGE": "de"},
        {"HTTP_COOKIE": f"{settings.LANGUAGE_COOKIE_NAME}=de", "HTTP_ACCEPT_LANGUAGE": "en"},
    ],
)
def test_the_language_is_chosen_and_announced_as_by_django(headers):
    ours = _answer(LocaleMiddleware, **headers)
    assert ours == _answer(DjangoLocaleMiddleware, **headers)
    assert ours[1] == "Accept-Language" and ours[2] == ours[0]


def _twice(middleware_class, **headers):
    """Two requests with the same headers through one middleware (the second from what
    the first worked out), each with the Vary and Content-Language a response had before."""
    current = []
    middleware = middleware_class(lambda request: current[-1](request))
    answers = []
    for _ in range(2):
        for preset in ({}, {"Vary": "Cookie"}, {"Vary": "*"}, {"Content-Language": "fr"}):
            seen = {}

            def view(request, preset=preset, seen=seen):
                seen["language"] = request.LANGUAGE_CODE
                return HttpResponse("ok", headers=preset)

            current.append(view)
            with translation.override(None):
                response = middleware(RequestFactory().get("/", **headers))
            answers.append((seen["language"], list(response.items())))
    return answers


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"HTTP_ACCEPT_LANGUAGE": "en-GB,en;q=0.9"},
        {"HTTP_COOKIE": f"{settings.LANGUAGE_COOKIE_NAME}=en", "HTTP_ACCEPT_LANGUAGE": "de"},
    ],
)
def test_a_language_worked_out_before_and_the_headers_are_as_django_sets_them(headers):
    ours = _twice(LocaleMiddleware, **headers)
    assert ours == _twice(DjangoLocaleMiddleware, **headers)
    assert ours[:4] == ours[4:]


def test_changed_languages_are_asked_again(settings):
    middleware = LocaleMiddleware(lambda request: HttpResponse(request.LANGUAGE_CODE))
    asking = {"HTTP_ACCEPT_LANGUAGE": "en"}
    with translation.override(None):
        assert middleware(RequestFactory().get("/", **asking)).content == b"en"
        settings.LANGUAGES = [("de", "Deutsch")]
        assert middleware(RequestFactory().get("/", **asking)).content == b"de"
