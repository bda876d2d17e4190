"""Dashboard sections: every module contributes one from its AppConfig.ready().

A section's `context` gets the request and returns the template context, or None to hide
the section. It must cost a fixed number of queries whatever the user's number of classes
or items (asserted in tests/dashboard). Its `scopes` names the fragment scopes `context`
will read (kreide/core/fragments.py): the dashboard reads all sections' versions in one
cache round trip before the sections render.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from kreide.core import fragments
from kreide.schools import access

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    template: str
    order: int
    context: Callable[[HttpRequest], dict[str, Any] | None]
    scopes: Callable[[HttpRequest], list[str]] | None = None


_sections: dict[str, Section] = {}


def register(section: Section) -> None:
    _sections[section.key] = section


def member_scopes(
    request: HttpRequest,
    of_user: Callable[[int], str],
    of_group: Callable[[int], str],
    role: str | None = None,
) -> list[str]:
    """A `scopes` answer: the signed-in user's scope and one per group (with `role`)."""
    if request.user.school_id is None:
        return []
    groups = access.request_group_ids(request, role)
    return [of_user(request.user.pk), *(of_group(group_id) for group_id in groups)]


def render_sections(request: HttpRequest) -> list[dict[str, Any]]:
    sections = sorted(_sections.values(), key=lambda s: s.order)
    try:
        fragments.prefetch(
            scope for section in sections if section.scopes for scope in section.scopes(request)
        )
    except Exception:  # only a saving: each section reads what it needs anyway
        logger.exception("dashboard scopes failed")
    rendered = []
    for section in sections:
        try:
            context = section.context(request)
        except Exception:  # one broken module must not take the dashboard down
            logger.exception("dashboard section failed", extra={"section": section.key})
            rendered.append({"section": section, "failed": True})
            continue
        if context is not None:
            rendered.append({"section": section, "failed": False, **context})
    return rendered
