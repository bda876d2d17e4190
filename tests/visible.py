"""What a page shows a reader: its text without markup, scripts or attribute values.

Assertions about what a page does *not* show must look here, as whole words: the page
source also holds a random CSRF token and CSP nonce (64 letters and digits), which
contain a short string like "7b" or "Bio" now and then."""

from __future__ import annotations

import re
from html.parser import HTMLParser

_HIDDEN = {"script", "style", "template"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in _HIDDEN:
            self.hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN and self.hidden:
            self.hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def visible_text(page: str | bytes) -> str:
    """The page's text as a browser shows it (whitespace collapsed)."""
    parser = _Text()
    parser.feed(page.decode() if isinstance(page, bytes) else page)
    parser.close()
    return " ".join(" ".join(parser.parts).split())


def shows(page: str | bytes, words: str) -> bool:
    """Whether the page's text holds `words` as whole words ("7b" but not "17b" or "7bc")."""
    return re.search(rf"(?<!\w){re.escape(words)}(?!\w)", visible_text(page)) is not None
