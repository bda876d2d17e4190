"""Dashboard sections: every module contributes one from its AppConfig.ready().

A section's `context` gets the request and returns the template context, or None to hide
the section. It must cost a fixed number of queries whatever the user's number of classes
or items (asserted in tests/dashboard).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    template: str
    order: int
    context: Callable[[HttpRequest], dict[str, Any] | None]


_sections: dict[str, Section] = {}


def register(section: Section) -> None:
    _sections[section.key] = section


def render_sections(request: HttpRequest) -> list[dict[str, Any]]:
    rendered = []
    for section in sorted(_sections.values(), key=lambda s: s.order):
        try:
            context = section.context(request)
        except Exception:  # one broken module must not take the dashboard down
            logger.exception("dashboard section failed", extra={"section": section.key})
            rendered.append({"section": section, "failed": True})
            continue
        if context is not None:
            rendered.append({"section": section, "failed": False, **context})
    return rendered
