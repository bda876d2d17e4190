"""The main navigation: each module registers its entry in its AppConfig.ready()."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.translation import get_language


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    order: int
    visible: Callable[[HttpRequest], bool] = lambda request: True
    # A number shown beside the label (e.g. unread messages); it must cost no query on
    # most requests (read it from the cache), since every page renders the navigation.
    count: Callable[[HttpRequest], int] | None = None
    # Shown to a signed-in account that is not active (a graduate reading the archive,
    # kreide.accounts.gate.former_student), which sees only such entries.
    former_students: bool = False


_items: list[NavItem] = []


def register(
    label: str,
    url_name: str,
    order: int,
    visible: Callable[[HttpRequest], bool] | None = None,
    count: Callable[[HttpRequest], int] | None = None,
    former_students: bool = False,
) -> None:
    if any(item.url_name == url_name for item in _items):
        return
    _items.append(
        NavItem(label, url_name, order, visible or (lambda request: True), count, former_students)
    )
    _items.sort(key=lambda item: item.order)
    _labelled.cache_clear()


def fixed_url(url_name: str, *args: int | str) -> str:
    """reverse() computed once per process for each name and arguments: every page links
    the navigation and the account links, a room page its room's eight actions, and
    reversing costs more than the rest of them."""
    return _fixed_url(*urls_of_request(), url_name, args)


def fixed_urls(*url_names: str) -> list[str]:
    """fixed_url() of each name (no arguments), the request's URLconf and prefix read once
    (each read is ~20 Python calls through asgiref's Locals)."""
    urls = urls_of_request()
    return [_fixed_url(*urls, url_name, ()) for url_name in url_names]


def urls_of_request() -> tuple[str, str]:
    """What reverse() reads besides the name, both set per request: the URLconf and the
    script prefix. Kept with every URL, a test's other URLconf or Kreide served under a
    path gets its own URLs."""
    return get_urlconf() or settings.ROOT_URLCONF, get_script_prefix()


@lru_cache(maxsize=4096)
def _fixed_url(urlconf: str, prefix: str, url_name: str, args: tuple) -> str:
    return reverse(url_name, urlconf=urlconf, args=args)


@lru_cache(maxsize=64)
def _labelled(
    language: str | None, urlconf: str, prefix: str
) -> tuple[tuple[NavItem, str, str], ...]:
    """Every item with its label translated and its URL, once per language (and URLconf)."""
    return tuple((item, str(item.label), fixed_url(item.url_name)) for item in _items)


def items_for(request: HttpRequest) -> list[dict]:
    current = request.path
    active = request.user.is_active
    entries = []
    for item, label, url in _labelled(get_language(), *urls_of_request()):
        if not (active or item.former_students) or not item.visible(request):
            continue
        entries.append(
            {
                "label": label,
                "url": url,
                "active": current.startswith(url) and (url != "/" or current == "/"),
                "count": item.count(request) if item.count else 0,
            }
        )
    return entries
