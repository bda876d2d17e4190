"""Admission control: a bounded number of requests in flight per worker, a bounded queue,
and a fast, honest 503 with Retry-After for everything beyond.

It sits before the session and authentication middleware and decides from the path and
the presence of the session cookie alone, so turning a request away costs no database
query and no session load. Priorities, best first: signed-in requests, anonymous pages,
new logins (argon2 is the costliest thing Kreide does), heavy work (exports, imports,
video joins). Logins and heavy work first pass their own small gate, so they can never
occupy more than a few of the worker's slots; a full queue makes room for a better
request by turning away its worst waiter.

Granian runs each request on one of `--blocking-threads` threads; `kreide serve` sizes
them to hold every admitted and queued request plus spares, so the refusal is always
immediate instead of waiting invisibly inside the server.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, get_urlconf, resolve

from kreide.core import load

# Priorities: lower is better.
SIGNED_IN, ANONYMOUS, LOGIN, HEAVY = 0, 1, 2, 3


def heavy(view: Callable) -> Callable:
    """Mark a view as heavy work (ZIP export, import, video join): admitted last, few at once."""
    view.kreide_heavy = True
    return view


@dataclass(frozen=True)
class Limits:
    in_flight: int
    queue: int
    queue_timeout: float
    login_in_flight: int
    login_queue: int
    heavy_in_flight: int
    heavy_queue: int
    retry_after: int

    @classmethod
    def from_settings(cls) -> Limits:
        return cls(
            in_flight=settings.ADMISSION_IN_FLIGHT,
            queue=settings.ADMISSION_QUEUE,
            queue_timeout=settings.ADMISSION_QUEUE_TIMEOUT_MS / 1000,
            login_in_flight=settings.ADMISSION_LOGIN_IN_FLIGHT,
            login_queue=settings.ADMISSION_LOGIN_QUEUE,
            heavy_in_flight=settings.ADMISSION_HEAVY_IN_FLIGHT,
            heavy_queue=settings.ADMISSION_HEAVY_QUEUE,
            retry_after=settings.ADMISSION_RETRY_AFTER,
        )

    def threads_needed(self) -> int:
        """Threads a worker needs so that a refusal never waits for a free thread."""
        return (
            self.in_flight
            + self.queue
            + self.login_queue
            + self.heavy_queue
            + self.login_in_flight
            + self.heavy_in_flight
            + 4
        )


class _Waiter:
    __slots__ = ("event", "admitted")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.admitted = False


class Gate:
    """At most `limit` holders; up to `queue_limit` waiters, woken best priority first."""

    def __init__(self, limit: int, queue_limit: int) -> None:
        self.limit = limit
        self.queue_limit = queue_limit
        self.in_flight = 0
        # How long a holder keeps its slot (moving average), to predict a newcomer's wait.
        self.hold_seconds = 0.0
        self._lock = threading.Lock()
        self._waiters: list[tuple[int, int, _Waiter]] = []
        self._order = itertools.count()

    @property
    def queued(self) -> int:
        return len(self._waiters)

    def acquire(self, priority: int, timeout: float) -> bool:
        with self._lock:
            if self.in_flight < self.limit and not self._waiters:
                self.in_flight += 1
                return True
            ahead = sum(1 for entry in self._waiters if entry[0] <= priority)
            if (ahead + 1) * self.hold_seconds / max(1, self.limit) > timeout / 2:
                # The wait would likely outlast the timeout: the same 503 now, not a second
                # later (half the timeout as margin: holding times vary).
                return False
            if len(self._waiters) >= self.queue_limit:
                worst = max(self._waiters) if self._waiters else None
                if worst is None or worst[0] <= priority:
                    return False
                # A better request takes the place of the worst waiter, which is refused.
                self._waiters.remove(worst)
                heapq.heapify(self._waiters)
                worst[2].event.set()
            waiter = _Waiter()
            heapq.heappush(self._waiters, (priority, next(self._order), waiter))
        waiter.event.wait(timeout)
        with self._lock:
            if waiter.admitted:
                return True
            # Timed out or displaced: leave the queue if still in it.
            self._waiters = [entry for entry in self._waiters if entry[2] is not waiter]
            heapq.heapify(self._waiters)
            return False

    def release(self, held: float = 0.0) -> None:
        with self._lock:
            self.hold_seconds += 0.1 * (held - self.hold_seconds)
            if self._waiters:
                # The slot passes straight to the best waiter; in_flight stays the same.
                _, _, waiter = heapq.heappop(self._waiters)
                waiter.admitted = True
                waiter.event.set()
            else:
                self.in_flight -= 1


def _heavy_path(path: str) -> bool:
    if path.startswith(tuple(settings.ADMISSION_HEAVY_PATHS)):
        return True
    urlconf = get_urlconf() or settings.ROOT_URLCONF
    if len(path) > _LONGEST_REMEMBERED_PATH:  # resolved, but not kept in memory
        return _heavy_view.__wrapped__(urlconf, path)
    return _heavy_view(urlconf, path)


# Resolving is the costliest part of classifying, and the view behind a path stays the
# same while the process runs: the paths a worker sees most are resolved once.
_LONGEST_REMEMBERED_PATH = 256


@lru_cache(maxsize=2048)
def _heavy_view(urlconf: str, path: str) -> bool:
    try:
        match = resolve(path, urlconf)
    except Resolver404:
        return False
    return getattr(match.func, "kreide_heavy", False)


def classify(request: HttpRequest) -> int | None:
    """The request's priority, or None when it bypasses admission (status, health, static)."""
    path = request.path_info
    # One startswith() of a tuple: a generator's steps are Python calls on every request.
    if path.startswith(tuple(settings.ADMISSION_EXEMPT_PATHS)):
        return None
    if request.method == "POST" and path == settings.ADMISSION_LOGIN_PATH:
        return LOGIN
    if _heavy_path(path):
        return HEAVY
    # As nginx's front limit: a script's API token counts like a browser's session.
    if settings.SESSION_COOKIE_NAME in request.COOKIES or "Authorization" in request.headers:
        return SIGNED_IN
    return ANONYMOUS


class AdmissionMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.enabled = settings.ADMISSION_ENABLED
        limits = self.limits = Limits.from_settings()
        self.main = Gate(limits.in_flight, limits.queue)
        self.side = {
            LOGIN: Gate(limits.login_in_flight, limits.login_queue),
            HEAVY: Gate(limits.heavy_in_flight, limits.heavy_queue),
        }

    def __call__(self, request: HttpRequest) -> HttpResponse:
        priority = classify(request) if self.enabled else None
        if priority is None:
            return self._timed(request)
        side = self.side.get(priority)
        if side is not None and not side.acquire(priority, self.limits.queue_timeout):
            return self._shed(request)
        entered = time.perf_counter()
        try:
            if not self.main.acquire(priority, self.limits.queue_timeout):
                return self._shed(request)
            admitted = time.perf_counter()
            try:
                return self._timed(request)
            finally:
                self.main.release(time.perf_counter() - admitted)
        finally:
            if side is not None:
                side.release(time.perf_counter() - entered)

    def _timed(self, request: HttpRequest) -> HttpResponse:
        load.started()
        started = time.perf_counter()
        try:
            return self.get_response(request)
        finally:
            load.finished(time.perf_counter() - started)

    def _shed(self, request: HttpRequest) -> HttpResponse:
        load.shed()
        # Jitter spreads the returning crowd over twice the base wait.
        retry_after = self.limits.retry_after + random.randint(0, self.limits.retry_after)
        return waiting_response(request, retry_after)


_pages: dict[str, bytes] = {}
# Where status/waiting.html says how many seconds it waits; filled in per answer (here or
# by nginx).
RETRY_AFTER_MARK = "__RETRY_AFTER__"
WAITING_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; "
    "base-uri 'self'; frame-ancestors 'none'"
)


def render_waiting_page(language: str) -> bytes:
    """The waiting page in one language, with RETRY_AFTER_MARK where the seconds go."""
    from django.template.loader import render_to_string
    from django.utils import translation

    with translation.override(language):
        return render_to_string("status/waiting.html").encode()


def _waiting_page(language: str) -> bytes:
    """The waiting page, rendered once per language and process: no database, no session."""
    page = _pages.get(language)
    if page is None:
        page = _pages[language] = render_waiting_page(language)
    return page


def waiting_response(request: HttpRequest, retry_after: int) -> HttpResponse:
    accept = request.headers.get("Accept-Language", "").lower()
    language = "en" if accept.startswith("en") else settings.LANGUAGE_CODE
    if request.headers.get("HX-Request") or "text/html" not in request.headers.get("Accept", ""):
        # htmx and API clients get a short body; kreide.js honours Retry-After.
        response = HttpResponse(b"busy\n", status=503, content_type="text/plain")
    else:
        page = _waiting_page(language).replace(RETRY_AFTER_MARK.encode(), str(retry_after).encode())
        response = HttpResponse(page, status=503, content_type="text/html; charset=utf-8")
        response["Content-Language"] = language
    response["Retry-After"] = str(retry_after)
    response["Cache-Control"] = "no-store"
    # Counted in kreide.core.load; an error log line per refusal would flood the log
    # exactly when the server is busiest.
    response._has_been_logged = True
    # Answered before the CSP middleware runs: the same strict policy, set here.
    response["Content-Security-Policy"] = WAITING_CSP
    return response
