"""Random strings (secrets: session keys, CSRF secrets) from the system's random source
in one draw.

Django's `get_random_string` asks the system for each character on its own (32 `urandom`
calls and ~130 Python calls for a 32-character key, 60–160 µs); a sign-in draws four
such strings (the CSRF secret and its mask on the form page, a new CSRF secret and the
session key on signing in; the CSRF ones through `kreide/core/csrf.py`).
`random_string` draws bytes once and maps them to characters by `bytes.translate`: the
same uniform choice from the same source, ~4 µs.
"""

from __future__ import annotations

import os
from functools import lru_cache


@lru_cache(maxsize=16)
def _tables(allowed_chars: str) -> tuple[bytes, bytes]:
    """The byte → character table and the bytes to drop: only the largest multiple of
    len(allowed_chars) below 256 is kept, so that each character is equally likely."""
    count = len(allowed_chars)
    if not 0 < count <= 256 or not allowed_chars.isascii():
        raise ValueError("1 to 256 ASCII characters are needed")
    kept = 256 - 256 % count
    table = bytes.maketrans(bytes(range(kept)), (allowed_chars * (kept // count)).encode())
    return table, bytes(range(kept, 256))


def random_string(length: int, allowed_chars: str) -> str:
    """`length` characters, each chosen uniformly from `allowed_chars` with the operating
    system's random source, as `django.utils.crypto.get_random_string`."""
    table, dropped = _tables(allowed_chars)
    drawn = b""
    while len(drawn) < length:  # a draw of length + 16 bytes nearly always suffices
        drawn += os.urandom(length + 16).translate(table, dropped)
    return drawn[:length].decode()
