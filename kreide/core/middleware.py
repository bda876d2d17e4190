"""Request timing (one structured log line for slow or failed requests, and metrics), the
language and the Content-Security-Policy header."""

import logging
import time
from collections.abc import Callable

import csp.middleware
from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject
from csp.utils import build_policy
from django.conf import settings
from django.conf.urls.i18n import is_language_prefix_patterns_used
from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.middleware import locale
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _

from kreide.core.metrics import LATENCY, REQUESTS

logger = logging.getLogger("kreide.request")
SLOW_SECONDS = 1.0


class RequestLogMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        match = getattr(request, "resolver_match", None)
        view = match.view_name if match else "unresolved"
        REQUESTS.labels(view, request.method, str(response.status_code)).inc()
        LATENCY.labels(view).observe(elapsed)
        if elapsed >= SLOW_SECONDS or response.status_code >= 500:
            logger.warning(
                "request",
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "ms": round(elapsed * 1000, 1),
                    "view": view,
                },
            )
        return response


class UnreadableFormMiddleware:
    """A form body that cannot be parsed (multipart without a boundary, a broken header)
    is a 400 before the CSRF check, the views or Django's own error pages read it: inside
    a view Django makes such an error a 400 itself, inside its 404 page a 500."""

    _FORMS = ("multipart/form-data", "application/x-www-form-urlencoded")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST" and request.content_type in self._FORMS:
            try:
                request.POST  # noqa: B018 - parsed once here, kept for everyone after
            except MultiPartParserError:
                return HttpResponse(
                    _("The form could not be read. Please reload the page and send it again."),
                    status=400,
                    content_type="text/plain; charset=utf-8",
                )
        return self.get_response(request)


class LocaleMiddleware(locale.LocaleMiddleware):
    """Django's, without looking for a language at the start of the path (twice ~13 Python
    calls a request) where no URL pattern is prefixed with one (Kreide has none)."""

    def process_request(self, request: HttpRequest) -> None:
        if _language_prefixed(request):
            return super().process_request(request)
        translation.activate(translation.get_language_from_request(request))
        request.LANGUAGE_CODE = translation.get_language()
        return None

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if _language_prefixed(request):
            return super().process_response(request, response)
        patch_vary_headers(response, ("Accept-Language",))
        response.headers.setdefault("Content-Language", translation.get_language())
        return response


def _language_prefixed(request: HttpRequest) -> bool:
    return is_language_prefix_patterns_used(getattr(request, "urlconf", settings.ROOT_URLCONF))[0]


_PER_RESPONSE_POLICY = (
    "_csp_config",
    "_csp_update",
    "_csp_replace",
    "_csp_config_ro",
    "_csp_update_ro",
    "_csp_replace_ro",
)
# (setting, header, exemption attribute)
_POLICIES = (
    ("CONTENT_SECURITY_POLICY", HEADER, "_csp_exempt"),
    ("CONTENT_SECURITY_POLICY_REPORT_ONLY", HEADER_REPORT_ONLY, "_csp_exempt_ro"),
)


class CSPMiddleware(csp.middleware.CSPMiddleware):
    """django-csp, with the policy built once per process for what nearly every page
    answers: no nonce and no policy of its own. django-csp builds the same string from the
    settings on every response; responses that change it go through django-csp as before."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        super().__init__(get_response)
        # setting name -> (the setting's value it was built from, the policy)
        self._built: dict[str, tuple[object, str]] = {}

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if getattr(request, "_csp_nonce", None) is not None or any(
            getattr(response, name, None) is not None for name in _PER_RESPONSE_POLICY
        ):
            return super().process_response(request, response)
        if settings.DEBUG and response.status_code in (500, 404):  # Django's debug pages
            return response
        for setting, header, exempt in _POLICIES:
            config = getattr(settings, setting, None)
            built = self._built.get(setting)
            if built is None or built[0] is not config:  # first use, or a test's override
                built = self._built[setting] = (
                    config,
                    build_policy(report_only=header == HEADER_REPORT_ONLY),
                )
            excluded = tuple((config or {}).get("EXCLUDE_URL_PREFIXES") or ())
            if (
                built[1]
                and header not in response
                and getattr(response, exempt, False) is False
                and not request.path_info.startswith(excluded)
            ):
                response[header] = built[1]
        # As django-csp: a nonce asked for after the header is written is an error.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response
