"""Collecting stored content nobody refers to any more (`kreide purge-blobs`, daily).

Content is stored once and referred to by tasks, submissions, folders, messages and
uploads (every foreign key to Blob, found by introspection so a new module is covered
without touching this file). When the last reference goes — a file purged from the
trash, a task deleted — the content stays until this collector removes it.

Nothing in use is ever removed:
- content stored again or newly within the grace period (`Blob.stored_at`) is left alone,
  so an upload being attached right now keeps its file;
- each batch locks its rows (skipping rows another transaction holds, e.g. one inserting a
  reference) and checks the references again under the lock with a fresh query;
- the blob store renews `stored_at` and places files under the same row lock.

Files on disk without a row (a crash between placing a file and committing its row) are
given a row dated by the file's modification time and collected like the rest; temporary
files of interrupted writes are removed once older than the grace period.

A collection holds STORAGE_DIR/collect.lock exclusively; scripts/backup.sh (from the
database dump to the end of the file copy) and `kreide export` (`content_kept()`) hold it
shared: a file their snapshot refers to is never removed before it is copied.
"""

from __future__ import annotations

import fcntl
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from kreide.storage.blobstore import backend
from kreide.storage.models import Blob

BATCH = 200


@dataclass
class Collected:
    blobs: int = 0
    bytes: int = 0
    orphan_files: int = 0
    staging_files: int = 0


def references() -> list[tuple[type[models.Model], str]]:
    """(model, field name) of every foreign key to Blob."""
    return [
        (relation.related_model, relation.field.name)
        for relation in Blob._meta.get_fields(include_hidden=True)
        if relation.is_relation and relation.auto_created and not relation.concrete
    ]


def unreferenced(blobs: models.QuerySet[Blob]) -> models.QuerySet[Blob]:
    for model, field in references():
        blobs = blobs.filter(~Exists(model._base_manager.filter(**{field: OuterRef("pk")})))
    return blobs


def collect(
    grace: timedelta = timedelta(days=1),
    progress: Callable[[int, int], None] | None = None,
) -> Collected:
    """Remove content unreferenced and not stored within `grace`; `progress(done, total)`
    is called with the candidates handled so far, before the first batch and after each."""
    with _store_lock(fcntl.LOCK_EX):  # waits for running backups and exports
        return _collect(timezone.now() - grace, progress)


def content_kept() -> AbstractContextManager[None]:
    """Held while a snapshot's files are read (an export): no collection runs meanwhile."""
    return _store_lock(fcntl.LOCK_SH)


@contextmanager
def _store_lock(mode: int) -> Iterator[None]:
    settings.STORAGE_DIR.mkdir(parents=True, exist_ok=True)
    with open(settings.STORAGE_DIR / "collect.lock", "a") as lock:
        fcntl.flock(lock, mode)
        yield


def _collect(cutoff: datetime, progress: Callable[[int, int], None] | None) -> Collected:
    collected = Collected()
    collected.orphan_files = _adopt_orphan_files(cutoff)
    candidates = list(
        unreferenced(Blob.objects.filter(stored_at__lt=cutoff)).values_list("pk", flat=True)
    )
    for start in range(0, len(candidates), BATCH):
        if progress:
            progress(start, len(candidates))
        blobs, size = _collect_batch(candidates[start : start + BATCH], cutoff)
        collected.blobs += blobs
        collected.bytes += size
    if progress:
        progress(len(candidates), len(candidates))
    collected.staging_files = _remove_staging_leftovers(cutoff)
    return collected


@transaction.atomic
def _collect_batch(pks: Iterable[int], cutoff: datetime) -> tuple[int, int]:
    locked = list(
        Blob.objects.select_for_update(skip_locked=True)
        .filter(pk__in=list(pks), stored_at__lt=cutoff)
        .values_list("pk", flat=True)
    )
    # A fresh query under the lock sees references committed since the candidates were
    # listed; references being inserted right now hold their row, which was skipped.
    doomed = list(
        unreferenced(Blob.objects.filter(pk__in=locked, stored_at__lt=cutoff)).values_list(
            "pk", "sha256", "size"
        )
    )
    if not doomed:
        return 0, 0
    Blob.objects.filter(pk__in=[pk for pk, _sha, _size in doomed]).delete()
    store = backend()
    for _pk, sha256, _size in doomed:
        store.remove(sha256)
    return len(doomed), sum(size for _pk, _sha, size in doomed)


def release(blob: Blob) -> bool:
    """Free at once the content a refused write has just stored, if nothing refers to it.

    Content stored again since (a newer `stored_at`: someone else is attaching the same
    bytes right now) is left to the nightly collection, and so is everything while a
    backup, an export or a collection holds the store's lock."""
    try:
        with _store_lock(fcntl.LOCK_EX | fcntl.LOCK_NB), transaction.atomic():
            doomed = unreferenced(
                Blob.objects.select_for_update().filter(pk=blob.pk, stored_at__lte=blob.stored_at)
            ).first()
            if doomed is None:
                return False
            doomed.delete()
            backend().remove(doomed.sha256)
            return True
    except BlockingIOError:
        return False


def _adopt_orphan_files(cutoff: datetime) -> int:
    """Give files on disk without a row a row dated by their mtime (if older than cutoff)."""
    store = backend()
    adopted = 0
    batch: dict[str, tuple[int, float]] = {}

    def flush() -> None:
        nonlocal adopted
        known = set(Blob.objects.filter(sha256__in=list(batch)).values_list("sha256", flat=True))
        for sha256, (size, mtime) in batch.items():
            if sha256 in known:
                continue
            stored_at = datetime.fromtimestamp(mtime, tz=UTC)
            try:
                with transaction.atomic():
                    _blob, created = Blob.objects.get_or_create(
                        sha256=sha256, defaults={"size": size, "stored_at": stored_at}
                    )
            except IntegrityError:  # stored at this moment: it has its row now
                continue
            adopted += created
        batch.clear()

    for sha256, size, mtime in store.stored():
        if datetime.fromtimestamp(mtime, tz=UTC) < cutoff:
            batch[sha256] = (size, mtime)
        if len(batch) >= BATCH:
            flush()
    flush()
    return adopted


def _remove_staging_leftovers(cutoff: datetime) -> int:
    removed = 0
    for path, mtime in backend().staging_files():
        if datetime.fromtimestamp(mtime, tz=UTC) < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
