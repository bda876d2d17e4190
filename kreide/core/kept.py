"""Markup rendered once per process for what it shows, with stand-ins for what is each
request's own (a CSRF token, the account's name, the page's address).

The site header and the sign-in form's section are the same for everybody who sees the
same role, school, language or buttons; rendering them once and putting the request's
parts in by string replacement saves their templates' work on every page.
"""

from __future__ import annotations

import html
import secrets
from collections.abc import Callable, Hashable

from django.utils import timezone
from django.utils.functional import Promise
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from kreide.core.navigation import urls_of_request


def shown_in() -> tuple[str, ...]:
    """What kept markup shows besides its own values, part of every key: texts and dates
    in the request's language and time zone, links under its URLconf and script prefix."""
    return (get_language(), timezone.get_current_timezone_name(), *urls_of_request())


class KeptMarkup:
    def __init__(self, parts: tuple[str, ...], limit: int) -> None:
        # Random per process: no school name, label or button can contain them.
        self.stand_ins = {part: f"kreide-{secrets.token_hex(8)}-{part}" for part in parts}
        self._rendered: dict[Hashable, str] = {}
        self._limit = limit  # combinations kept; a full table starts over

    def get(
        self, key: Hashable, render: Callable[[dict[str, str]], str], **values: object
    ) -> SafeString:
        """The markup kept under `key` (`render(stand_ins)` the first time), with each
        stand-in replaced by its value escaped as the template would have. A value whose
        stand-in the markup does not show is not read (a lazy CSRF token is not made)."""
        html = self._rendered.get(key)
        if html is None:
            html = render(self.stand_ins)
            if len(self._rendered) >= self._limit:
                self._rendered.clear()
            self._rendered[key] = html
        return self._filled(html, values)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._rendered

    def kept(self, key: Hashable, **values: object) -> SafeString | None:
        """As `get()` for markup kept under `key`, else None (nothing rendered)."""
        html = self._rendered.get(key)
        return None if html is None else self._filled(html, values)

    def _filled(self, html: str, values: dict[str, object]) -> SafeString:
        for part, value in values.items():
            stand_in = self.stand_ins[part]
            if stand_in in html:
                html = html.replace(stand_in, _escaped(value))
        # Safe: the rendered template, and the request's own parts escaped.
        return mark_safe(html)  # noqa: S308


def _escaped(value: object) -> str:
    """`conditional_escape(value)` without its lazy wrappers (~15 Python calls a value):
    the same `html.escape()` of the text, safe markup as it is."""
    if isinstance(value, Promise):
        value = str(value)
    if hasattr(value, "__html__"):
        return value.__html__()
    return html.escape(str(value))
