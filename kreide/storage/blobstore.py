"""The content-addressed store on disk: STORAGE_DIR/ab/cd/abcdef….

Writes go to a temporary file in the same directory tree, are fsynced and then renamed
into place, so a crash never leaves a half-written file under a content hash. A second
upload of the same content costs no extra disk. The backend is a small class so an
S3-compatible store can replace it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.db import IntegrityError, transaction

from kreide.storage.models import Blob

CHUNK = 1024 * 1024


class LocalBlobBackend:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).exists()

    def temporary(self) -> tuple[int, str]:
        staging = self.root / "staging"
        staging.mkdir(parents=True, exist_ok=True)
        return tempfile.mkstemp(dir=staging)

    def commit(self, temporary_path: str, sha256: str) -> None:
        final = self.path(sha256)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(temporary_path, final)

    def open(self, sha256: str) -> BinaryIO:
        return open(self.path(sha256), "rb")  # noqa: SIM115 - caller closes


def backend() -> LocalBlobBackend:
    return LocalBlobBackend(settings.STORAGE_DIR)


def _record(sha256: str, size: int) -> Blob:
    try:
        with transaction.atomic():
            blob, _ = Blob.objects.get_or_create(sha256=sha256, defaults={"size": size})
    except IntegrityError:  # another worker stored the same content at the same moment
        blob = Blob.objects.get(sha256=sha256)
    return blob


def store_chunks(chunks: Iterable[bytes]) -> Blob:
    """Store content given as chunks; returns its Blob (existing or new)."""
    store = backend()
    handle, temporary_path = store.temporary()
    digest, size = hashlib.sha256(), 0
    try:
        with os.fdopen(handle, "wb") as out:
            for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        sha256 = digest.hexdigest()
        if store.exists(sha256):
            os.unlink(temporary_path)
        else:
            store.commit(temporary_path, sha256)
    except BaseException:
        if os.path.exists(temporary_path):
            os.unlink(temporary_path)
        raise
    return _record(sha256, size)


def store_file(fileobj: BinaryIO) -> Blob:
    return store_chunks(iter(lambda: fileobj.read(CHUNK), b""))


def store_bytes(data: bytes) -> Blob:
    return store_chunks([data])


def store_path(path: Path, expected_sha256: str | None = None) -> Blob:
    """Adopt a finished file (e.g. a completed resumable upload) by moving it into place."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as source:
        for chunk in iter(lambda: source.read(CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
    sha256 = digest.hexdigest()
    if expected_sha256 and expected_sha256 != sha256:
        raise ValueError("checksum mismatch")
    store = backend()
    if store.exists(sha256):
        os.unlink(path)
    else:
        descriptor = os.open(path, os.O_RDONLY)  # closed again: a worker adopts many files
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        store.commit(str(path), sha256)
    return _record(sha256, size)


def open_blob(blob: Blob) -> BinaryIO:
    return backend().open(blob.sha256)


def blob_path(blob: Blob) -> Path:
    return backend().path(blob.sha256)
