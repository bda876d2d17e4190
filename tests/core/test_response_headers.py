"""Kreide's security and frame middleware set exactly the headers Django's set."""

import pytest
from django.http import HttpResponse
from django.middleware.clickjacking import XFrameOptionsMiddleware as DjangoXFrame
from django.middleware.security import SecurityMiddleware as DjangoSecurity
from django.test import RequestFactory
from django.views.decorators.clickjacking import xframe_options_exempt

from kreide.core.middleware import SecurityMiddleware, XFrameOptionsMiddleware


def _responses():
    yield HttpResponse()
    yield HttpResponse(headers={"Referrer-Policy": "no-referrer", "X-Frame-Options": "SAMEORIGIN"})
    yield HttpResponse(headers={"strict-transport-security": "max-age=1"})
    yield xframe_options_exempt(lambda request: HttpResponse())(None)


def _headers(middleware_class, secure: bool) -> list:
    answers = []
    for response in _responses():
        middleware = middleware_class(lambda request, response=response: response)
        request = RequestFactory().get("/", secure=secure)
        answers.append(list(middleware(request).items()))
    return answers


@pytest.mark.parametrize("secure", [False, True])
@pytest.mark.parametrize(
    "changed",
    [
        {},
        {"SECURE_HSTS_SECONDS": 3600},
        {
            "SECURE_HSTS_SECONDS": 60,
            "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
            "SECURE_HSTS_PRELOAD": True,
            "SECURE_REFERRER_POLICY": ["origin", "strict-origin"],
            "SECURE_CROSS_ORIGIN_OPENER_POLICY": None,
            "SECURE_CONTENT_TYPE_NOSNIFF": False,
            "X_FRAME_OPTIONS": "sameorigin",
        },
    ],
)
def test_the_headers_are_djangos(settings, secure, changed):
    for name, value in changed.items():
        setattr(settings, name, value)
    for ours, django in (
        (SecurityMiddleware, DjangoSecurity),
        (XFrameOptionsMiddleware, DjangoXFrame),
    ):
        assert _headers(ours, secure) == _headers(django, secure)
    assert (
        _headers(SecurityMiddleware, secure) != [[("Content-Type", "text/html; charset=utf-8")]] * 4
    )


@pytest.mark.django_db
def test_the_headers_on_the_sign_in_page_are_the_ones_django_sets(client):
    response = client.get("/accounts/login/", secure=True)
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
