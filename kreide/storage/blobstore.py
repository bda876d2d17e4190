"""The content-addressed store on disk: STORAGE_DIR/ab/cd/abcdef….

Writes go to a temporary file in the same directory tree, are fsynced and then renamed
into place (the directory fsynced too), so a crash never leaves a half-written file under a
content hash, nor a committed row without its file. A second upload of the same content
costs no extra disk. The backend is a small class so an S3-compatible store can replace it.

A file is put in place while its Blob row is locked and its `stored_at` renewed: the
collector (kreide.storage.collector) removes content only under that same lock, so storing
content again and collecting it never interleave.

A full disk raises `StorageFull` (every way in answers 507 with its message and a
Retry-After) after the half-written temporary file is gone; `check_room` raises it before a
write whose size is known would leave less than STORAGE_RESERVE_BYTES free. A store on a
network file system whose server cannot be reached fails with errors like ENOTCONN;
`kreide.storage.unreachable` answers those with `StoreUnreachable` (503), not a 500.

Several nodes may share the store (docs/scale-out.md). A node's view of which files exist
can lag behind another node's for a moment (the FUSE client's entry cache, NFS's attribute
cache), so whether content must be put in place is decided by its Blob row, which the
database answers exactly: a new row always gets its file put in place.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kreide.core.errors import Refusal
from kreide.core.prepared import PreparedInsert
from kreide.storage.models import Blob

CHUNK = 1024 * 1024
# A full disk needs an operator or the nightly clean-up before a retry can succeed.
FULL_RETRY_AFTER = 300


class StoreUnreachable(Refusal):
    """The shared store's server (a network file system) does not answer."""

    status, code, retry_after = 503, "store_unreachable", 30

    def __init__(self) -> None:
        super().__init__(
            _(
                "Files cannot be reached right now: the file store does not answer. "
                "Nothing was lost; please try again in a few minutes."
            )
        )


# What a network file system's client says while its server is away: GlusterFS's FUSE
# client ENOTCONN (tests/deploy/test_shared_store.py), the others as their clients and
# FUSE give them. EIO stays a 500: on a local disk it means the disk, not the network.
UNREACHABLE = frozenset(
    {
        errno.ENOTCONN,
        errno.ESTALE,
        errno.ETIMEDOUT,
        errno.EHOSTDOWN,
        errno.EHOSTUNREACH,
        errno.ECONNREFUSED,
        errno.ESHUTDOWN,
    }
)


class StorageFull(Refusal):
    """The disk holding the store is full; nothing of the failed write was kept."""

    status, code, retry_after = 507, "storage_full", FULL_RETRY_AFTER

    def __init__(self) -> None:
        super().__init__(
            _(
                "The server's storage is full right now. Nothing was saved; "
                "please try again in a few minutes."
            )
        )


def check_room(size: int, promised: int = 0) -> None:
    """StorageFull unless `size` more bytes (beside `promised` ones that others are still
    sending) leave STORAGE_RESERVE_BYTES free on the store's disk."""
    root = Path(settings.STORAGE_DIR)
    root.mkdir(parents=True, exist_ok=True)
    if size + promised + settings.STORAGE_RESERVE_BYTES > shutil.disk_usage(root).free:
        raise StorageFull


@contextlib.contextmanager
def full_disk_refused() -> Iterator[None]:
    """Turn "no space left on device" (or an exhausted disk quota) into StorageFull."""
    try:
        yield
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StorageFull from error
        raise


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
        # The new name is on disk (the server's, on a network file system) before the row
        # that names it commits: a crash must not leave a row without its file.
        directory = os.open(final.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def open(self, sha256: str) -> BinaryIO:
        return open(self.path(sha256), "rb")  # noqa: SIM115 - caller closes

    def remove(self, sha256: str) -> None:
        self.path(sha256).unlink(missing_ok=True)

    def stored(self) -> Iterator[tuple[str, int, float]]:
        """(sha256, size, modification time) of every content file."""
        for first in sorted(self.root.glob("[0-9a-f][0-9a-f]")):
            for path in first.glob("[0-9a-f][0-9a-f]/*"):
                if len(path.name) == 64:
                    status = path.stat()
                    yield path.name, status.st_size, status.st_mtime

    def staging_files(self) -> Iterator[tuple[Path, float]]:
        """Temporary files of writes (a crash can leave them behind) with their mtime."""
        staging = self.root / "staging"
        for path in staging.iterdir() if staging.is_dir() else ():
            yield path, path.stat().st_mtime


def backend() -> LocalBlobBackend:
    return LocalBlobBackend(settings.STORAGE_DIR)


# The content's row: inserted, or renewed and locked where it exists (every upload).
_RECORD = PreparedInsert(Blob, conflict=["sha256"], update=["stored_at"])


def _adopt(sha256: str, size: int, put_in_place: Callable[[bool], None]) -> Blob:
    """Record the content, renew its `stored_at` and, under the row's lock, call
    `put_in_place(already_stored)` to move the new file into place or drop it.

    One statement, no savepoint: the row is inserted unless it exists, else its
    `stored_at` renewed (which locks it; a concurrent insert of the same content waits for
    the other transaction, and a row the collector deletes meanwhile is inserted anew)."""
    now = timezone.now()
    with transaction.atomic(savepoint=False):
        blob = _RECORD.row(Blob(sha256=sha256, size=size, created_at=now, stored_at=now))
        # A new row has this call's creation time, content stored before its own. A row
        # that existed under this lock has its file (the collector removes both together);
        # for a new row another node may just have removed the file while this node still
        # sees it cached, and the same bytes replace it.
        put_in_place(blob.created_at != now and backend().exists(sha256))
        return blob


def store_chunks(chunks: Iterable[bytes]) -> Blob:
    """Store content given as chunks; returns its Blob (existing or new)."""
    store = backend()
    with full_disk_refused():
        handle, temporary_path = store.temporary()
    digest, size = hashlib.sha256(), 0
    try:
        with full_disk_refused(), os.fdopen(handle, "wb") as out:
            for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        sha256 = digest.hexdigest()

        def put_in_place(already_stored: bool) -> None:
            if not already_stored:
                with full_disk_refused():  # a new directory needs a block too
                    store.commit(temporary_path, sha256)

        return _adopt(sha256, size, put_in_place)
    finally:
        if os.path.exists(temporary_path):  # the content was there already, or it failed
            os.unlink(temporary_path)


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

    def put_in_place(already_stored: bool) -> None:
        if not already_stored:
            descriptor = os.open(path, os.O_RDONLY)  # closed again: a worker adopts many files
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
            with full_disk_refused():  # a new directory needs a block too
                store.commit(str(path), sha256)

    blob = _adopt(sha256, size, put_in_place)
    Path(path).unlink(missing_ok=True)  # the content was there already
    return blob


def open_blob(blob: Blob) -> BinaryIO:
    return backend().open(blob.sha256)


def blob_path(blob: Blob) -> Path:
    return backend().path(blob.sha256)
