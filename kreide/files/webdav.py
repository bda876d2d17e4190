"""The /dav/ endpoint: HTTP Basic sign-in, then WsgiDAV answers inside this Django view.

Only Basic credentials count here, never the session cookie, so a web page cannot make the
browser write through WebDAV (and CSRF protection, a cookie matter, does not apply).
A successful password check is remembered for a minute under a keyed hash of the
credentials: file managers send them with every request, argon2 costs ~18 ms each.
Users with two-factor sign-in must use an app password.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import itertools
import sys

from django.conf import settings
from django.contrib.auth import authenticate
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django_otp import user_has_device
from wsgidav.error_printer import ErrorPrinter
from wsgidav.lock_man.lock_manager import LockManager
from wsgidav.request_resolver import RequestResolver
from wsgidav.wsgidav_app import WsgiDAVApp

from kreide.accounts import throttle
from kreide.accounts.gate import must_change_password_first, refusal_message
from kreide.accounts.models import User
from kreide.core import leader
from kreide.core.http import client_address
from kreide.files import services
from kreide.files.dav import DatabaseLockStorage, KreideProvider, current_school
from kreide.files.services import Actor

CREDENTIAL_CACHE_SECONDS = 60
REALM = "Kreide"
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
}


class DeploymentLockManager(LockManager):
    """Granting a WebDAV lock checks for conflicting locks, then writes the new one. WsgiDAV
    serialises that within one process; every worker process of every node shares the
    DavLock table, so the check and the write run in one transaction that holds the
    school's lock-granting turn (kreide.core.leader.one_at_a_time)."""

    def acquire(self, **kwargs):
        with transaction.atomic():
            leader.one_at_a_time(f"dav-locks-{current_school.get()}")
            return super().acquire(**kwargs)


@functools.cache
def dav_app() -> WsgiDAVApp:
    provider = KreideProvider()
    app = WsgiDAVApp(
        {
            "provider_mapping": {"/": provider},
            "mount_path": "/dav",
            "lock_storage": DatabaseLockStorage(),
            "property_manager": None,
            "middleware_stack": [ErrorPrinter, RequestResolver],
            "simple_dc": {"user_mapping": {"*": True}},
            "http_authenticator": {"accept_digest": False, "default_to_digest": False},
            "dir_browser": {"enable": False},
            "logging": {"enable": False},
            "verbose": 1,
        }
    )
    app.lock_manager = DeploymentLockManager(app.lock_manager.storage)
    provider.set_lock_manager(app.lock_manager)
    return app


def _basic_credentials(request: HttpRequest) -> tuple[str, str] | None:
    kind, _, encoded = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if kind.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, colon, password = decoded.partition(":")
    return (username, password) if colon and username else None


def _cache_key(username: str, password: str) -> str:
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"{username}\0{password}".encode(), hashlib.sha256
    ).hexdigest()
    return f"files:dav-auth:{digest}"


def authenticate_basic(request: HttpRequest) -> User | None:
    credentials = _basic_credentials(request)
    if credentials is None:
        return None
    username, password = credentials
    key = _cache_key(username, password)
    remembered = cache.get(key)
    if remembered:
        user_id, password_hash, by_app_password = remembered
        user = User.objects.filter(pk=user_id, is_active=True).select_related("school").first()
        # A changed password or a new second factor ends the remembered sign-in at once.
        if (
            user
            and user.password == password_hash
            and (by_app_password or not user_has_device(user))
        ):
            return user
    address = client_address(request)
    if throttle.current_lockout(username, address):
        return None
    user = services.user_for_app_password(username, password)
    by_app_password = user is not None
    if user is None:
        user = authenticate(request, username=username, password=password)
        if user is not None and user_has_device(user, confirmed=True):
            user = None  # two-factor accounts: app passwords only
    if user is None or user.school_id is None:
        throttle.record_failure(username, address)
        return None
    throttle.record_success(username)
    cache.set(key, (user.pk, user.password, by_app_password), CREDENTIAL_CACHE_SECONDS)
    return user


def _challenge() -> HttpResponse:
    response = HttpResponse(status=401)
    response["WWW-Authenticate"] = f'Basic realm="{REALM}", charset="UTF-8"'
    return response


# WSGI servers that hand the application a de-chunked request body.
_DECHUNKING_SERVERS = ("Granian", "gunicorn")


def _chunked_body(request: HttpRequest):
    """The server's own input stream for a chunked body (Finder sends those), else None.

    Django reads a body by its Content-Length only, so without one it would read nothing."""
    chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
    server = request.META.get("SERVER_SOFTWARE", "")
    if chunked and server.startswith(_DECHUNKING_SERVERS) and "wsgi.input" in request.META:
        return request.META["wsgi.input"]
    return None


def _refuse_put(request: HttpRequest) -> HttpResponse | None:
    length = request.META.get("CONTENT_LENGTH", "")
    if not length.isdigit():
        if _chunked_body(request) is not None:
            return None  # the size is checked while the body is stored
        return HttpResponse(
            _("Please send the file size (Content-Length)."),
            status=411,
            content_type="text/plain; charset=utf-8",
        )
    if int(length) > settings.MAX_UPLOAD_BYTES:
        return HttpResponse(
            _("The file is larger than the server allows (%(limit)s MB).")
            % {"limit": settings.MAX_UPLOAD_BYTES // (1024 * 1024)},
            status=413,
            content_type="text/plain; charset=utf-8",
        )
    return None


def _escapes_root(path: str) -> bool:
    """Whether ".." segments lead above /dav/ (WsgiDAV would answer an empty 400)."""
    depth = 0
    for part in path.split("/"):
        depth += -1 if part == ".." else part not in ("", ".")
        if depth < 0:
            return True
    return False


@csrf_exempt
def dav(request: HttpRequest, path: str = "") -> HttpResponse:
    if _escapes_root(path):
        return HttpResponse(
            _("This path leads outside your WebDAV folders."),
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    user = authenticate_basic(request)
    if user is None:
        return _challenge()
    if must_change_password_first(user):
        return HttpResponse(
            refusal_message(),
            status=403,
            content_type="text/plain; charset=utf-8",
        )
    refusal = _refuse_put(request) if request.method == "PUT" else None
    if refusal is not None:
        return refusal
    environ = {key: value for key, value in request.META.items() if isinstance(value, str)}
    environ.update(
        {
            "wsgi.input": _chunked_body(request) or request,
            "wsgi.errors": sys.stderr,
            "wsgi.url_scheme": request.scheme,
            "wsgi.version": (1, 0),
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            "REQUEST_METHOD": request.method,
            "HTTP_HOST": request.get_host(),
            "SCRIPT_NAME": "/dav",
            # WSGI carries paths as latin-1 strings of the UTF-8 bytes; WsgiDAV decodes them.
            "PATH_INFO": ("/" + path).encode().decode("latin-1"),
            "wsgidav.auth.user_name": user.username,
            "wsgidav.auth.realm": REALM,
            "kreide.actor": Actor(user),
        }
    )
    captured: dict = {}

    def start_response(status: str, headers: list, exc_info=None):
        captured["status"], captured["headers"] = status, headers
        return lambda data: None

    token = current_school.set(user.school_id)
    try:
        # WsgiDAV answers lazily: the request is handled while its body is iterated.
        chunks = iter(dav_app()(environ, start_response))
        first = next(chunks, b"")
        if request.method != "GET":
            body = b"".join([first, *chunks])
    finally:
        current_school.reset(token)
    code, _space, reason = captured["status"].partition(" ")
    if request.method == "GET":  # file content: streamed, never held in memory
        response = StreamingHttpResponse(
            itertools.chain([first], chunks), status=int(code), reason=reason
        )
    else:
        response = HttpResponse(body, status=int(code), reason=reason)
    del response["Content-Type"]
    for name, value in captured["headers"]:
        if name.lower() not in _HOP_BY_HOP:
            response[name] = value
    return response
