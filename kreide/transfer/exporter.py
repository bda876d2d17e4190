"""`kreide export`: one school into one archive, streamed from a consistent snapshot."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tarfile
import tempfile
import time
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import BinaryIO

from django.db import connections, transaction
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone
from tqdm import tqdm

from kreide.storage.blobstore import backend
from kreide.storage.collector import content_kept
from kreide.transfer import archive, history, serialize
from kreide.transfer.registry import RegistryError, ordered_specs, uncovered_models


@contextlib.contextmanager
def snapshot(using: str) -> Iterator[None]:
    """One read transaction: the archive shows the school at one instant while it is used.

    PostgreSQL: REPEATABLE READ, READ ONLY. SQLite (WAL): a deferred transaction reads one
    snapshot without taking the write lock that the deployment's IMMEDIATE mode would take.
    """
    connection = connections[using]
    if connection.in_atomic_block:  # inside a transaction already (a test): it is the snapshot
        yield
        return
    if connection.vendor == "sqlite":
        connection.ensure_connection()  # the mode is read from the settings on connecting
        configured = connection.transaction_mode
        connection.transaction_mode = "DEFERRED"
        try:
            with transaction.atomic(using=using):
                yield
        finally:
            connection.transaction_mode = configured
        return
    with connection.cursor():  # any connection health check runs now, not as the first query
        pass
    with transaction.atomic(using=using):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def _kreide_version() -> str:
    try:
        return metadata.version("kreide")
    except metadata.PackageNotFoundError:
        return ""


def applied_schema(using: str) -> list[str]:
    """Applied migrations of the apps in the export: the importer needs at least these."""
    apps_in_export = {spec.model._meta.app_label for spec in ordered_specs()}
    applied = MigrationRecorder(connections[using]).applied_migrations()
    return sorted(f"{app}.{name}" for app, name in applied if app in apps_in_export)


class _HashingReader(io.RawIOBase):
    """Hashes what tarfile copies out of the blob store, so a damaged store file fails
    the export instead of travelling under a wrong name."""

    def __init__(self, source: BinaryIO, bar: tqdm) -> None:
        self.source, self.bar, self.digest = source, bar, hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        self.digest.update(data)
        self.bar.update(len(data))
        return data


def _add(tar: tarfile.TarFile, name: str, size: int, fileobj: BinaryIO, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, int(mtime), 0o644
    tar.addfile(info, fileobj)


def export_school(
    slug: str, out: Path, *, using: str = "default", progress: bool = False
) -> archive.Manifest:
    """Write the school's archive to `out` (atomically: a partial file never has its name)."""
    from kreide.schools.models import School

    try:
        uncovered = uncovered_models()
    except RegistryError as error:
        raise serialize.ExportError(str(error)) from error
    if uncovered:  # an export that silently left data behind would be worse than none
        raise serialize.ExportError(
            "This Kreide does not know how to export all school data:\n" + "\n".join(uncovered)
        )
    out = Path(out)
    handle, temporary = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
    os.close(handle)
    now = time.time()
    try:
        with (
            content_kept(),  # no file of the snapshot is collected before it is read
            snapshot(using),
            open(temporary, "wb") as raw,
        ):
            written = history.HashingWriter(raw)
            with tarfile.open(fileobj=written, mode="w", format=tarfile.PAX_FORMAT) as tar:
                school = School._base_manager.using(using).filter(slug=slug).first()
                if school is None:
                    raise serialize.ExportError(f"There is no school with the short name {slug!r}.")
                manifest = _write(tar, school, using, progress, now)
        os.replace(temporary, out)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    history.record_export(
        school,
        out,
        written.digest.hexdigest(),
        written.size,
        rows=sum(part.count for part in manifest.parts),
        files=len(manifest.blobs),
        using=using,
    )
    return manifest


def _write(
    tar: tarfile.TarFile, school, using: str, progress: bool, now: float
) -> archive.Manifest:
    maps = serialize.build_maps(school.pk, using)
    blobs = serialize.blob_queryset(school.pk, using)
    blob_total = sum(size for size in blobs.values_list("size", flat=True).iterator())
    parts = []
    with tqdm(
        total=sum(len(m) for m in maps.values()), unit="row", desc="Rows", disable=not progress
    ) as bar:
        for spec in ordered_specs():
            stats = serialize.PartStats()
            digest, size, count = hashlib.sha256(), 0, 0
            # Parts are staged on disk: tar needs the size before the content.
            with tempfile.TemporaryFile() as staged:
                for line in serialize.part_lines(spec, school.pk, maps, using, stats):
                    staged.write(line)
                    digest.update(line)
                    size += len(line)
                    count += 1
                    bar.update()
                staged.seek(0)
                _add(tar, archive.part_path(spec.kind), size, staged, now)
            parts.append(
                {
                    "kind": spec.kind,
                    "path": archive.part_path(spec.kind),
                    "count": count,
                    "size": size,
                    "sha256": digest.hexdigest(),
                    "fields": [f.name for f in spec.fields],
                    "detached_references": stats.detached,
                }
            )
    blob_list = []
    store = backend()
    with tqdm(
        total=blob_total, unit="B", unit_scale=True, desc="Files", disable=not progress
    ) as bar:
        for sha256, size in blobs.values_list("sha256", "size").iterator(chunk_size=2000):
            try:
                source = store.open(sha256)
            except FileNotFoundError as error:
                raise serialize.ExportError(
                    f"File {sha256} is missing from the blob store ({store.path(sha256)})."
                ) from error
            with source:
                reader = _HashingReader(source, bar)
                try:
                    _add(tar, archive.blob_path(sha256), size, reader, now)
                except OSError as error:  # tarfile: "unexpected end of data"
                    raise serialize.ExportError(
                        f"File {sha256} in the blob store is shorter than recorded."
                    ) from error
                if reader.digest.hexdigest() != sha256 or source.read(1):
                    raise serialize.ExportError(f"File {sha256} in the blob store is damaged.")
            blob_list.append({"sha256": sha256, "size": size})
    from kreide.mail.transfer import MailTransferError, export_mail

    try:
        mail = export_mail(tar, school, _add, now)
    except MailTransferError as error:
        raise serialize.ExportError(str(error)) from error
    raw = {
        "format": archive.FORMAT,
        "format_version": archive.FORMAT_VERSION,
        "exported": {
            "at": timezone.now().isoformat(),
            "database": connections[using].vendor,
            "kreide": _kreide_version(),
        },
        "school": {"slug": school.slug, "name": school.name},
        "schema": applied_schema(using),
        "counts": {part["kind"]: part["count"] for part in parts},
        "parts": parts,
        "blobs": blob_list,
        "blob_bytes": blob_total,
        **({"mail": mail} if mail is not None else {}),
    }
    data = json.dumps(raw, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8")
    _add(tar, archive.MANIFEST, len(data), io.BytesIO(data), now)
    return archive.parse_manifest(data)


def reexport_digests(school_pk: int, using: str) -> dict[str, tuple[int, str]]:
    """(count, sha256) of every part as an export would write it now: the import's check."""
    maps = serialize.build_maps(school_pk, using)
    result = {}
    for spec in ordered_specs():
        digest, count = hashlib.sha256(), 0
        for line in serialize.part_lines(spec, school_pk, maps, using, serialize.PartStats()):
            digest.update(line)
            count += 1
        result[spec.kind] = (count, digest.hexdigest())
    return result
