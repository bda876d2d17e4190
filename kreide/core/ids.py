"""Ids from outside (URLs, JSON bodies, WebSocket frames, form fields).

One place decides what an id may be: a non-negative integer that fits the database's
64-bit keys. Anything else is refused here, so a hostile number becomes a 404 or a 400
instead of an overflow inside the database driver (SQLite raises OverflowError past 2**63).
"""

from __future__ import annotations

from collections.abc import Iterable

MAX_ID = 2**63 - 1
_MAX_DIGITS = len(str(MAX_ID))


def parse_id(value: object) -> int:
    """The id in `value` (an int or a string of digits), else ValueError."""
    if isinstance(value, bool):
        raise ValueError("not an id")
    if isinstance(value, str):
        text = value.strip()
        if not (text.isascii() and text.isdigit() and len(text) <= _MAX_DIGITS):
            raise ValueError("not an id")
        value = int(text)
    if not isinstance(value, int) or not 0 <= value <= MAX_ID:
        raise ValueError("not an id")
    return value


class IdConverter:
    """`<id:pk>` in URL patterns: digits that fit a database id; others do not match (404)."""

    regex = f"[0-9]{{1,{_MAX_DIGITS}}}"

    def to_python(self, value: str) -> int:
        return parse_id(value)

    def to_url(self, value: int) -> str:
        return str(parse_id(value))


def valid_ids(values: Iterable[object]) -> set[int]:
    """The ids among `values` (e.g. ticked checkboxes); anything else is left out."""
    found = set()
    for value in values:
        try:
            found.add(parse_id(value))
        except ValueError:
            continue
    return found
