"""Page-wide banners (an ongoing incident, video unavailable): modules register a provider.

Providers run on every page, so they must answer from the cache, never from a slow query.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpRequest

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Banner:
    text: str
    level: str = "warning"  # "info", "warning" or "error"


_providers: list[Callable[[HttpRequest], list[Banner]]] = []


def register(provider: Callable[[HttpRequest], list[Banner]]) -> None:
    if provider not in _providers:
        _providers.append(provider)


def banners_for(request: HttpRequest) -> list[Banner]:
    found: list[Banner] = []
    for provider in _providers:
        try:
            found.extend(provider(request))
        except Exception:  # a failing module must not take every page down
            logger.exception("banner provider failed")
    return found
