import pytest
from csp.constants import NONCE
from csp.utils import build_policy
from django.http import HttpResponse
from django.test import RequestFactory

from kreide.core.middleware import CSPMiddleware


def _answer(response: HttpResponse, path: str = "/"):
    return CSPMiddleware(lambda request: response)(RequestFactory().get(path))


def test_policy_built_once_is_django_csps_policy():
    first = _answer(HttpResponse())["Content-Security-Policy"]
    assert first == build_policy()
    assert _answer(HttpResponse())["Content-Security-Policy"] == first
    assert "Content-Security-Policy-Report-Only" not in _answer(HttpResponse())


def test_changed_settings_change_the_policy(settings):
    middleware = CSPMiddleware(lambda request: HttpResponse())
    assert "script-src 'self'" in middleware(RequestFactory().get("/"))["Content-Security-Policy"]
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'none'"]}}
    assert middleware(RequestFactory().get("/"))["Content-Security-Policy"] == "default-src 'none'"


def test_a_response_with_its_own_policy_or_an_exemption_keeps_it():
    widened = HttpResponse()
    widened._csp_update = {"connect-src": ["wss://media.example.org"]}
    assert "wss://media.example.org" in _answer(widened)["Content-Security-Policy"]
    exempt = HttpResponse()
    exempt._csp_exempt = True
    assert "Content-Security-Policy" not in _answer(exempt)
    preset = HttpResponse()
    preset["Content-Security-Policy"] = "default-src 'none'"
    assert _answer(preset)["Content-Security-Policy"] == "default-src 'none'"


def test_a_nonce_is_in_the_policy_of_the_page_that_used_it(settings):
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"script-src": ["'self'", NONCE]}}

    def page(request):
        return HttpResponse(f'<script nonce="{request.csp_nonce}"></script>')

    request = RequestFactory().get("/")
    response = CSPMiddleware(page)(request)
    assert f"script-src 'self' 'nonce-{request._csp_nonce}'" in response["Content-Security-Policy"]
    assert "'nonce-" not in _answer(HttpResponse())["Content-Security-Policy"]


@pytest.mark.django_db
def test_asking_for_a_nonce_after_the_header_is_written_fails(client):
    from csp.exceptions import CSPNonceError

    response = client.get("/accounts/login/")
    with pytest.raises(CSPNonceError):
        str(response.wsgi_request.csp_nonce)
