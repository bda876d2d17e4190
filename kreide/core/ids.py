"""Ids from outside (URLs, JSON bodies, WebSocket frames, form fields).

One place decides what an id may be: a non-negative integer that fits the database's
64-bit keys. Anything else is refused here, so a hostile number becomes a 404 or a 400
instead of an overflow inside the database driver (SQLite raises OverflowError past 2**63);
behind that, queries treat such a number as matching nothing (`bound_integer_lookups`).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import EmptyResultSet
from django.db.models import ForeignObject, IntegerField
from django.db.models.fields.related_lookups import RelatedExact, RelatedIn
from django.db.models.lookups import In
from django.utils.datastructures import OrderedSet

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


def _fits(value: object) -> bool:
    return not isinstance(value, int) or isinstance(value, bool) or -MAX_ID - 1 <= value <= MAX_ID


class _WithinDatabaseIntegers:
    """Lookup mixin: integers beyond 64 bits match no row instead of failing in the
    database driver (SQLite's raises OverflowError). Django does so for `exact`, `lt` and
    `gt` on integer columns; this adds `in` and the lookups through foreign keys, so an id
    that slipped past parse_id (e.g. inside a form's list of choices) is simply not found."""

    def process_rhs(self, compiler, connection):
        if self.rhs_is_direct_value():
            if isinstance(self.rhs, int) and not _fits(self.rhs):
                raise EmptyResultSet
            if isinstance(self.rhs, list | tuple | set | OrderedSet):
                self.rhs = [value for value in self.rhs if _fits(value)]
        return super().process_rhs(compiler, connection)


class _BoundedIn(_WithinDatabaseIntegers, In):
    pass


class _BoundedRelatedIn(_WithinDatabaseIntegers, RelatedIn):
    pass


class _BoundedRelatedExact(_WithinDatabaseIntegers, RelatedExact):
    pass


def bound_integer_lookups() -> None:
    """Install the lookups above (once, from CoreConfig.ready)."""
    IntegerField.register_lookup(_BoundedIn)
    ForeignObject.register_lookup(_BoundedRelatedIn)
    ForeignObject.register_lookup(_BoundedRelatedExact)
