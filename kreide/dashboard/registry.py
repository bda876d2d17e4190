"""Dashboard sections: every module contributes one from its AppConfig.ready().

A section's `context` gets the request and returns the template context, or None to hide
the section. It must cost a fixed number of queries whatever the user's number of classes
or items (asserted in tests/dashboard). Its `entries` names the cached fragments `context`
will read (name → scopes, as given to kreide/core/fragments.py), or its `scopes` only their
scopes: the dashboard reads all sections' versions (with the page's own keys,
`kreide.core.pagecache`) and their entries before the sections render, in one cache round
trip with Redis (else two), and writes what they computed anew in one round trip after them (a
student's first visit of the day misses their own entries).

A section whose markup is the same for many (a class's changes, a school's news) names
everything its template shows with `kept(context)`, as plain values (not rows that could
change under the same key): its markup, with the card around it, is then rendered once
per such key, language and time zone in a process and kept. Its template may show nothing
but `item` and a form's `{% csrf_token %}` (a stand-in in the kept markup, the request's
token put in).

A student's own fragments among the `entries` (the lessons they teach, the tasks given
to them by name, the shares with them) are empty for most, and missing on their first
visit: a section names them with `probes(request)` (name → `Probe`), and when two or
more are missing the dashboard asks in one statement which of them have rows at all and
caches the empty ones as empty; only those with rows are the sections' queries.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.utils.functional import lazy
from django.utils.safestring import SafeString

from kreide.core import fragments
from kreide.core.kept import KeptMarkup, shown_in
from kreide.core.prepared import PreparedQuery, any_rows

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Probe:
    """A fragment of a section's `entries` computed as `query.list(*args)`, cached for
    `timeout` seconds; `empty` is its value when that has no row."""

    query: PreparedQuery
    args: tuple
    timeout: int
    empty: Any = field(default_factory=list)


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    template: str
    order: int
    context: Callable[[HttpRequest], dict[str, Any] | None]
    scopes: Callable[[HttpRequest], list[str]] | None = None
    entries: Callable[[HttpRequest], dict[str, list[str]]] | None = None
    kept: Callable[[dict[str, Any]], Hashable] | None = None
    probes: Callable[[HttpRequest], dict[str, Probe]] | None = None


_sections: dict[str, Section] = {}
_kept = KeptMarkup(("csrf_token",), limit=1024)  # per class, section and language a day: few
_lazy_token = lazy(get_token, str)  # made only for markup with a form


def register(section: Section) -> None:
    _sections[section.key] = section


def render_sections(request: HttpRequest) -> list[dict[str, Any]]:
    sections = sorted(_sections.values(), key=lambda s: s.order)
    with fragments.batch():
        return _render(request, sections)


def _render(request: HttpRequest, sections: list[Section]) -> list[dict[str, Any]]:
    try:
        entries: dict[str, list[str]] = {}
        for section in sections:
            if section.entries:
                entries.update(section.entries(request))
        # Before the sections: they put() and peek() the page's keys.
        missing = fragments.prefetch_with_page(
            request,
            [scope for s in sections if s.scopes for scope in s.scopes(request)],
            entries=entries,
        )
        if len(missing) > 1:  # one query either way with one missing: the section's own
            _probe(request, sections, entries, missing)
    except Exception:  # only a saving: each section reads what it needs anyway
        logger.exception("dashboard scopes failed")
    rendered: list[dict[str, Any]] = []
    csrf_token = _lazy_token(request)
    # What a kept section's markup is kept for besides what it shows: the same all page long.
    page_shown_in = shown_in()
    for section in sections:
        try:
            context = section.context(request)
            if context is None:
                continue
            item = {"section": section, "failed": False, **context}
            if section.kept:
                item["html"] = _markup(section, item, page_shown_in, csrf_token)
        except Exception:  # one broken module must not take the dashboard down
            logger.exception("dashboard section failed", extra={"section": section.key})
            rendered.append({"section": section, "failed": True})
            continue
        if "html" in item and rendered and "html" in rendered[-1]:
            # Kept markup next to kept markup: one pass of the page's loop for both (the
            # loop puts nothing between its items).
            rendered[-1] = {"html": rendered[-1]["html"] + item["html"]}
        else:
            rendered.append(item)
    return rendered


def _probe(
    request: HttpRequest,
    sections: list[Section],
    entries: dict[str, list[str]],
    missing: list[str],
) -> None:
    """Which of the sections' probed fragments among `missing` have rows, in one
    statement, if two or more; the empty ones cached as empty (the sections then find
    them)."""
    probes = {
        name: probe
        for section in sections
        if section.probes
        for name, probe in section.probes(request).items()
    }
    asked = [name for name in missing if name in probes]
    if len(asked) < 2:
        return
    found = any_rows([(probes[name].query, probes[name].args) for name in asked])
    for name, rows in zip(asked, found, strict=True):
        if not rows:
            probe = probes[name]
            fragments.fill(name, entries[name], probe.empty, probe.timeout)


def _markup(
    section: Section, item: dict[str, Any], page_shown_in: tuple[str, ...], csrf_token: str
) -> SafeString:
    """The section's markup, kept per what it shows (`Section.kept`) and where
    (`kept.shown_in()`)."""
    return _kept.get(
        (section.key, page_shown_in, section.kept(item)),
        lambda stand_ins: render_to_string("dashboard/section.html", {"item": item, **stand_ins}),
        csrf_token=csrf_token,
    )
