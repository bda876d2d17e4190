"""`kreide import`: an archive into this deployment, all or nothing, checked after writing.

Order of work: verify every checksum; refuse an existing school (unless replacing) and
usernames/e-mails taken by another school; store the files in the content-addressed blob
store (harmless if the rest fails: content-addressed, referenced by nothing yet); then in
ONE transaction delete the replaced school, insert every part with new primary keys, and
re-read what was written: every part must give the archive's bytes again and every file
its SHA-256, or the transaction rolls back.
"""

from __future__ import annotations

import array
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any

from django.db import DataError, IntegrityError, connections, models, transaction
from django.db.migrations.recorder import MigrationRecorder
from django.db.models.functions import Lower
from tqdm import tqdm

from kreide.storage.blobstore import CHUNK, backend, store_chunks
from kreide.transfer import archive, codec, history
from kreide.transfer.exporter import reexport_digests
from kreide.transfer.registry import ExportSpec, spec_for

BATCH = 500
ALLOCATE_CHUNK = 10_000


class ImportRefused(Exception):
    """The archive is fine but cannot go into this deployment as asked (named in the message)."""


@dataclass
class ImportResult:
    school_pk: int
    slug: str
    counts: dict[str, int]
    files: int
    replaced: bool
    mails: int = 0


def verify_file(path: str, *, progress: bool = False) -> archive.Manifest:
    """`kreide verify`: the archive against its own manifest."""
    with archive.open_tar(path) as tar:
        total = sum(m.size for m in archive.members(tar).values())
        with tqdm(
            total=total, unit="B", unit_scale=True, desc="Verify", disable=not progress
        ) as bar:
            return archive.verify(tar, bar.update)


def _check_compatible(manifest: archive.Manifest, using: str) -> dict[str, ExportSpec]:
    applied = {
        f"{app}.{name}" for app, name in MigrationRecorder(connections[using]).applied_migrations()
    }
    missing = [name for name in manifest.schema if name not in applied]
    if missing:
        raise ImportRefused(
            "This deployment lacks database migrations the archive was written with: "
            + ", ".join(missing[:10])
            + ". Update Kreide and run `kreide migrate` first."
        )
    specs = {}
    for part in manifest.parts:
        spec = spec_for(part.kind)
        if spec is None:
            raise ImportRefused(
                f"The archive holds {part.kind}, which this deployment does "
                "not know (a module missing or an older Kreide)."
            )
        known = {f.name for f in spec.fields}
        unknown = [name for name in part.fields if name not in known]
        if unknown:
            raise ImportRefused(f"{part.kind}: fields unknown here: {', '.join(unknown)}.")
        specs[part.kind] = spec
    return specs


def _lines(reader: archive.Reader, part: archive.Part) -> Iterator[dict[str, Any]]:
    with reader.open(part.path) as handle:
        for line in handle:
            yield json.loads(line)


def _check_unique_across_schools(
    reader: archive.Reader,
    manifest: archive.Manifest,
    specs: dict[str, ExportSpec],
    replaced_pk: int | None,
    using: str,
) -> None:
    """Usernames and e-mails are unique in the whole deployment (case-insensitively, as
    sign-in compares them): name every clash with another school's account."""
    for part in manifest.parts:
        spec = specs[part.kind]
        for name in spec.unique_across_schools:
            rows = _lines(reader, part)
            clashes: list[str] = []
            while chunk := list(islice(rows, BATCH)):
                folded = {row[name].lower(): row[name] for row in chunk if row.get(name)}
                taken = (
                    spec.model._base_manager.using(using)
                    .annotate(_folded=Lower(name))
                    .filter(_folded__in=list(folded))
                )
                if replaced_pk is not None:
                    taken = taken.exclude(**{spec.school_path: replaced_pk})
                for existing in taken.values_list(name, flat=True):
                    ours = folded.get(existing.lower(), existing)
                    clashes.append(ours if ours == existing else f"{ours} (here: {existing})")
            if clashes:
                shown = ", ".join(sorted(clashes)[:50])
                more = f" and {len(clashes) - 50} more" if len(clashes) > 50 else ""
                raise ImportRefused(
                    f"These {name}s belong to accounts of another school on this deployment: "
                    f"{shown}{more}."
                )


def _store_blobs(reader: archive.Reader, manifest: archive.Manifest, progress: bool) -> None:
    total = sum(size for _, size in manifest.blobs)
    with tqdm(total=total, unit="B", unit_scale=True, desc="Files", disable=not progress) as bar:
        for sha256, size in manifest.blobs:
            with reader.open(archive.blob_path(sha256)) as handle:

                def chunks(handle=handle) -> Iterator[bytes]:
                    for chunk in iter(lambda: handle.read(CHUNK), b""):
                        bar.update(len(chunk))
                        yield chunk

                blob = store_chunks(chunks())
            if blob.sha256 != sha256 or blob.size != size:
                raise archive.ArchiveError(f"blobs/{sha256} changed while it was read.")


def _allocate(model: type[models.Model], count: int, using: str) -> Sequence[int]:
    """`count` new primary keys, ascending. Knowing every row's new key before inserting
    lets rows refer to rows of later parts and to later rows of their own part (a folder
    moved into a newer folder) without an interim NULL that a constraint might forbid;
    foreign keys are checked at commit (Django creates them DEFERRABLE INITIALLY DEFERRED).
    """
    if not count:
        return range(0)
    connection = connections[using]
    table, column = model._meta.db_table, model._meta.pk.column
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            keys = array.array("q")
            for start in range(0, count, ALLOCATE_CHUNK):  # chunks: no big result in memory
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                    [connection.ops.quote_name(table), column, min(ALLOCATE_CHUNK, count - start)],
                )
                keys.extend(sorted(row[0] for row in cursor.fetchall()))
            return keys
        if connection.vendor == "sqlite":
            # The import holds SQLite's write lock: nobody else takes keys meanwhile.
            quoted_table, quoted_column = (connection.ops.quote_name(n) for n in (table, column))
            cursor.execute(f"SELECT max({quoted_column}) FROM {quoted_table}")  # noqa: S608
            highest = cursor.fetchone()[0] or 0
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
            sequence = cursor.fetchone()
            start = max(highest, sequence[0] if sequence else 0) + 1
            return range(start, start + count)
    raise ImportRefused(f"Importing into {connection.vendor} databases is not supported.")


def _insert(model: type[models.Model], objects: list[models.Model], using: str) -> None:
    """INSERT as loaddata does (raw: auto_now fields keep the archive's values)."""
    fields = [f for f in model._meta.concrete_fields if not getattr(f, "generated", False)]
    # The backend's limit on parameters per statement (SQLite may be built with 999).
    size = max(1, connections[using].ops.bulk_batch_size(fields, objects))
    manager = model._base_manager.using(using)
    for start in range(0, len(objects), size):
        manager._insert(objects[start : start + size], fields=fields, raw=True, using=using)


class _Writer:
    def __init__(self, reader: archive.Reader, specs: dict[str, ExportSpec], using: str) -> None:
        self.reader, self.specs, self.using = reader, specs, using
        self.new_pks: dict[str, Sequence] = {}

    def new_pk(self, kind: str, local: int) -> Any:
        return self.new_pks[kind][local - 1]

    def allocate(self, manifest: archive.Manifest) -> None:
        """Every row's new primary key, before the first INSERT."""
        for part in manifest.parts:
            spec = self.specs[part.kind]
            if not spec.keep_pk:
                self.new_pks[spec.kind] = _allocate(spec.model, part.count, self.using)
                continue
            pk = spec.model._meta.pk  # a UUID, or a one-to-one to an earlier part
            self.new_pks[spec.kind] = [
                self._value(spec, pk, row[pk.name]) for row in _lines(self.reader, part)
            ]

    def part(self, part: archive.Part, bar: tqdm) -> None:
        spec = self.specs[part.kind]
        present = [f for f in spec.fields if f.name in set(part.fields)]
        pk_attname = spec.model._meta.pk.attname
        rows = _lines(self.reader, part)
        local = 0
        while batch := list(islice(rows, BATCH)):
            blob_model = spec.model._meta.apps.get_model("storage", "Blob")
            shas = {row[name] for row in batch for name in spec.blob_fields if row.get(name)}
            blob_pks = dict(
                blob_model._base_manager.using(self.using)
                .filter(sha256__in=shas)
                .values_list("sha256", "pk")
            )
            objects = []
            for row in batch:
                local += 1
                # Fields missing from an older archive keep the model's default.
                values = {
                    f.attname: self._value(spec, f, row.get(f.name), blob_pks) for f in present
                }
                for type_field, id_field in spec.object_refs:
                    reference = row.get(id_field)
                    if isinstance(reference, dict):
                        target = self.new_pk(row[type_field], reference["local"])
                        values[id_field] = str(target)
                values[pk_attname] = self.new_pk(spec.kind, local)
                objects.append(spec.model(**values))
            _insert(spec.model, objects, self.using)
            bar.update(len(batch))

    def _value(
        self, spec: ExportSpec, f: models.Field, value: Any, blob_pks: dict[str, int] | None = None
    ) -> Any:
        if value is None:
            return None
        if f.name in spec.references:
            return self.new_pk(spec.references[f.name], value)
        if f.name in spec.blob_fields:
            return blob_pks[value]
        if f.name in spec.keys and isinstance(value, list):
            keys = spec.keys[f.name]
            return keys.format([self.new_pk(keys.kind, local) for local in value])
        if f.name in spec.watermarks:
            return self.new_pk(spec.watermarks[f.name], value) if value else 0
        return codec.decode(f, value)


def _check_written(manifest: archive.Manifest, school_pk: int, using: str) -> None:
    """Read back what was written, as an export would; any difference rolls back."""
    written = reexport_digests(school_pk, using)
    in_archive = {part.kind: part for part in manifest.parts}
    for kind, (count, sha256) in written.items():
        part = in_archive.get(kind)
        if part is None:
            if count:
                raise archive.ArchiveError(
                    f"{kind}: {count} rows appeared that the archive does not hold."
                )
            continue
        if count != part.count:
            raise archive.ArchiveError(f"{kind}: {count} rows written, archive holds {part.count}.")
        if sha256 != part.sha256:
            raise archive.ArchiveError(f"{kind}: the rows read back differ from the archive.")
    store = backend()
    for sha256, _ in manifest.blobs:
        digest = hashlib.sha256()
        with store.open(sha256) as handle:
            for chunk in iter(lambda handle=handle: handle.read(CHUNK), b""):
                digest.update(chunk)
        if digest.hexdigest() != sha256:
            raise archive.ArchiveError(f"File {sha256} in this deployment's store is damaged.")


def import_archive(
    path: str, *, replace: bool = False, using: str = "default", progress: bool = False
) -> ImportResult:
    from kreide.mail.transfer import MailTransferError, check_importable, import_mail
    from kreide.schools.models import School

    manifest = verify_file(path, progress=progress)
    sha256, size = history.file_digest(path)
    with archive.open_tar(path) as tar:
        specs = _check_compatible(manifest, using)
        try:
            check_importable(manifest)
        except MailTransferError as error:
            raise ImportRefused(str(error)) from error
        slug = manifest.school["slug"]
        existing = School._base_manager.using(using).filter(slug=slug).first()
        if existing is not None and not replace:
            raise ImportRefused(
                f"A school with the short name {slug!r} already exists here; use --replace "
                "to replace it (its current data is deleted)."
            )
        replaced_pk = existing.pk if existing is not None else None
        reader = archive.Reader(tar)
        _check_unique_across_schools(reader, manifest, specs, replaced_pk, using)
        _store_blobs(reader, manifest, progress)
        writer = _Writer(reader, specs, using)
        try:
            with transaction.atomic(using=using):
                if replaced_pk is not None:
                    School._base_manager.using(using).filter(pk=replaced_pk).delete()
                writer.allocate(manifest)
                with tqdm(
                    total=sum(p.count for p in manifest.parts),
                    unit="row",
                    desc="Rows",
                    disable=not progress,
                ) as bar:
                    for part in manifest.parts:
                        writer.part(part, bar)
                school_pk = writer.new_pk("schools.school", 1)
                _check_written(manifest, school_pk, using)
                history.record_import(
                    School._base_manager.using(using).get(pk=school_pk),
                    path,
                    sha256,
                    size,
                    exported=manifest.raw.get("exported", {}),
                    replaced=replaced_pk is not None,
                    using=using,
                )
        except (IntegrityError, DataError) as error:
            # E.g. a value unique in the whole deployment that exists here already, or text
            # PostgreSQL cannot store (NUL characters, which SQLite accepts).
            detail = " ".join(str(error).split())
            raise ImportRefused(f"The database refused the data: {detail}.") from error
        try:
            mails = import_mail(reader, manifest, school_pk)
        except MailTransferError as error:
            raise ImportRefused(
                f"The school was imported, its mail only in part: {error}"
            ) from error
    return ImportResult(
        school_pk=school_pk,
        slug=slug,
        counts={part.kind: part.count for part in manifest.parts},
        files=len(manifest.blobs),
        replaced=replaced_pk is not None,
        mails=mails,
    )
