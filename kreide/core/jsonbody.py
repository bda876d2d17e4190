"""JSON from outside (request bodies, WebSocket frames): one parser for every way in.

It refuses what would otherwise fail later and far from here: nesting deeper than
MAX_DEPTH (the standard parser and everything walking the result recurse, so deep
enough nesting is a RecursionError), NaN and Infinity (not JSON; they would come back
out as invalid JSON), and anything that is not UTF-8.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest

MAX_DEPTH = 32


class JSONBodyError(ValueError):
    """Not acceptable JSON; the message says why (for logs, not for users)."""


def _no_constants(name: str) -> None:
    raise JSONBodyError(f"{name} is not JSON")


def _depth_exceeds(value: Any, limit: int) -> bool:
    """Whether containers nest deeper than `limit` (iteratively: no recursion here)."""
    stack = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        items = current.values() if isinstance(current, dict) else current
        for item in items:
            if isinstance(item, dict | list):
                if depth + 1 > limit:
                    return True
                stack.append((item, depth + 1))
    return False


def loads(data: bytes | str) -> Any:
    """The JSON value in `data`, or JSONBodyError."""
    try:
        value = json.loads(data, parse_constant=_no_constants)
    except RecursionError as error:
        raise JSONBodyError("nested too deeply") from error
    except ValueError as error:  # also UnicodeDecodeError and too many digits
        raise JSONBodyError(str(error)) from error
    if isinstance(value, dict | list) and _depth_exceeds(value, MAX_DEPTH):
        raise JSONBodyError("nested too deeply")
    return value


def loads_object(data: bytes | str) -> dict[str, Any]:
    """A JSON object from `data` (empty means {}), or JSONBodyError."""
    value = loads(data) if data.strip() else {}
    if not isinstance(value, dict):
        raise JSONBodyError("not a JSON object")
    return value


def request_object(request: HttpRequest) -> dict[str, Any]:
    """The request's JSON object body, or JSONBodyError."""
    return loads_object(request.body)
