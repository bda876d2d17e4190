"""The main navigation: each module registers its entry in its AppConfig.ready()."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpRequest
from django.urls import reverse


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    order: int
    visible: Callable[[HttpRequest], bool] = lambda request: True


_items: list[NavItem] = []


def register(label: str, url_name: str, order: int, visible=None) -> None:
    if any(item.url_name == url_name for item in _items):
        return
    _items.append(NavItem(label, url_name, order, visible or (lambda request: True)))
    _items.sort(key=lambda item: item.order)


def items_for(request: HttpRequest) -> list[dict]:
    current = request.path
    entries = []
    for item in _items:
        if not item.visible(request):
            continue
        url = reverse(item.url_name)
        entries.append(
            {
                "label": item.label,
                "url": url,
                "active": current.startswith(url) and (url != "/" or current == "/"),
            }
        )
    return entries
