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
