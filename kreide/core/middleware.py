"""Request timing (one structured log line for slow or failed requests, and metrics), the
language, the security headers and the Content-Security-Policy header."""

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
from django.http.response import ResponseHeaders
from django.middleware import clickjacking, locale, security
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _

from kreide.core.metrics import LATENCY, REQUESTS
from kreide.core.templatetags import kreide_i18n

logger = logging.getLogger("kreide.request")
SLOW_SECONDS = 1.0


class RequestLogMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        # (view, method, status) -> its counter and histogram: `labels()` checks and looks
        # them up under a lock on every call (~25 Python calls a request).
        self._metrics: dict[tuple[str, str, int], tuple] = {}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        elapsed = time.perf_counter() - started
        match = getattr(request, "resolver_match", None)
        view = match.view_name if match else "unresolved"
        key = (view, request.method, response.status_code)
        metrics = self._metrics.get(key)
        if metrics is None:
            metrics = self._metrics[key] = (
                REQUESTS.labels(view, request.method, str(response.status_code)),
                LATENCY.labels(view),
            )
        metrics[0].inc()
        metrics[1].observe(elapsed)
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
    calls a request) where no URL pattern is prefixed with one (Kreide has none). The
    language a language cookie and an Accept-Language header ask for is worked out once
    for each pair, and the headers are set as Django sets them, without converting and
    checking the same values again on every response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        super().__init__(get_response)
        # (translations' generation, cookie, Accept-Language) -> (language, its code)
        self._languages: dict[tuple, tuple[str, str]] = {}

    def process_request(self, request: HttpRequest) -> None:
        if _language_prefixed(request):
            return super().process_request(request)
        key = (
            kreide_i18n.generation(),
            request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME),
            request.META.get("HTTP_ACCEPT_LANGUAGE"),
        )
        found = self._languages.get(key)
        if found is None:
            language = translation.get_language_from_request(request)
            if len(self._languages) >= _LIMIT:  # headers are the client's: bounded
                self._languages.clear()
            # As get_language() answers once the language is active.
            found = self._languages[key] = (language, translation.to_language(language))
        translation.activate(found[0])
        request.LANGUAGE_CODE = found[1]
        return None

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if _language_prefixed(request):
            return super().process_response(request, response)
        add_vary(response, "Accept-Language")
        set_default(response, "Content-Language", translation.get_language())
        return response


def _language_prefixed(request: HttpRequest) -> bool:
    return is_language_prefix_patterns_used(getattr(request, "urlconf", settings.ROOT_URLCONF))[0]


# Entries kept in each of the tables below (a full table starts over).
_LIMIT = 1024
# (name, value) -> the header as Django's ResponseHeaders stores it: its key and its pair.
_checked: dict[tuple[str, str], tuple[str, tuple[str, str]]] = {}
# (Vary before, header added) -> Vary after
_varied: dict[tuple[str | None, str], tuple[str, str]] = {}


def _stored(name: str, value: str) -> tuple[str, tuple[str, str]]:
    """The header as `response.headers[name] = value` stores it, converted and checked
    once (Django does it on every set, ~10 Python calls a header)."""
    found = _checked.get((name, value))
    if found is None:
        headers = ResponseHeaders({name: value})
        ((key, pair),) = headers._store.items()
        if len(_checked) >= _LIMIT:
            _checked.clear()
        found = _checked[name, value] = (key, pair)
    return found


def set_default(response: HttpResponse, name: str, value: str) -> None:
    """`response.headers.setdefault(name, value)`."""
    key, pair = _stored(name, value)
    response.headers._store.setdefault(key, pair)


def add_vary(response: HttpResponse, header: str) -> None:
    """`patch_vary_headers(response, (header,))`, worked out once per Vary it finds."""
    store = response.headers._store
    before = store.get("vary")
    key = (before and before[1], header)
    after = _varied.get(key)
    if after is None:
        probe = HttpResponse()
        if before is not None:
            probe.headers["Vary"] = before[1]
        patch_vary_headers(probe, (header,))
        if len(_varied) >= _LIMIT:
            _varied.clear()
        after = _varied[key] = probe.headers._store["vary"]
    store["vary"] = after


class SecurityMiddleware(security.SecurityMiddleware):
    """Django's, its headers (the same on every response of a process) worked out once
    from what Django's own `process_response` sets on an empty response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        super().__init__(get_response)
        self._headers = {secure: self._set_by_django(secure) for secure in (False, True)}

    def _set_by_django(self, secure: bool) -> tuple[tuple[str, tuple[str, str]], ...]:
        request = HttpRequest()
        request.is_secure = lambda: secure
        before = HttpResponse()
        after = super().process_response(request, HttpResponse())
        return tuple(
            (key, pair)
            for key, pair in after.headers._store.items()
            if key not in before.headers._store
        )

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        store = response.headers._store
        for key, pair in self._headers[bool(self.sts_seconds) and request.is_secure()]:
            store.setdefault(key, pair)
        return response


class XFrameOptionsMiddleware(clickjacking.XFrameOptionsMiddleware):
    """Django's, its header converted and checked once per value."""

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if "x-frame-options" in response.headers._store or getattr(
            response, "xframe_options_exempt", False
        ):
            return response
        key, pair = _stored("X-Frame-Options", self.get_xframe_options_value(request, response))
        response.headers._store[key] = pair
        return response


# A response's own policy, set by django-csp's decorators as attributes of the response.
_PER_RESPONSE_POLICY = frozenset(
    (
        "_csp_config",
        "_csp_update",
        "_csp_replace",
        "_csp_config_ro",
        "_csp_update_ro",
        "_csp_replace_ro",
    )
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
        # Any of them set (even to None, which django-csp then ignores): django-csp's way.
        if getattr(request, "_csp_nonce", None) is not None or not _PER_RESPONSE_POLICY.isdisjoint(
            vars(response)
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
                and getattr(response, exempt, False) is False
                and not request.path_info.startswith(excluded)
            ):
                set_default(response, header, built[1])
        # As django-csp: a nonce asked for after the header is written is an error.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response
