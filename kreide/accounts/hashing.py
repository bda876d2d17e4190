"""Hashing many passwords at once (imports): argon2id costs ~18 ms per password on one
core and holds the GIL, so large batches are spread over worker processes, one per core."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

from kreide.accounts.hashers import OwaspArgon2idHasher

# Below this, starting worker processes costs more than it saves.
POOL_THRESHOLD = 64


def _hash_chunk(passwords: list[str]) -> list[str]:
    hasher = OwaspArgon2idHasher()
    return [hasher.encode(password, hasher.salt()) for password in passwords]


def hash_passwords(
    passwords: list[str],
    workers: int | None = None,
    progress: Callable[[int], None] = lambda done: None,
) -> list[str]:
    """Encoded hashes in the order of `passwords` (the same format as make_password);
    `progress` is called with the number of passwords finished since its last call."""
    workers = workers or os.cpu_count() or 1
    size = 16
    chunks = [passwords[i : i + size] for i in range(0, len(passwords), size)]
    hashed: list[str] = []
    if workers < 2 or len(passwords) < POOL_THRESHOLD:
        for chunk in chunks:
            hashed.extend(_hash_chunk(chunk))
            progress(len(chunk))
        return hashed
    # "spawn": a fresh interpreter, never a fork of a web worker with threads and open
    # connections. As multiprocessing requires, the program's main module must be safe to
    # import (an `if __name__ == "__main__"` guard), which kreide, granian and pytest are.
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        for result in pool.map(_hash_chunk, chunks):
            hashed.extend(result)
            progress(len(result))
    return hashed
