"""Reading one school's rows as archive lines: shared by the export and by the import's
check of what it wrote.

Rows are read in primary-key order and numbered 1…n per part ("local ids"); references
between parts are written as local ids, never as database keys. The importer inserts rows
in file order, so the target assigns keys in the same order and an export of the imported
school gives byte-identical parts.
"""

from __future__ import annotations

import array
import bisect
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from kreide.transfer import codec
from kreide.transfer.registry import ExportSpec, Keys, ordered_specs

CHUNK = 2000


class ExportError(Exception):
    """The school's data cannot be exported faithfully (named in the message)."""


class KeyMap:
    """Sorted primary keys of one part's rows; a key's local id is its position + 1.
    Integer keys live in an array: 8 bytes per row, not a dict entry per row."""

    def __init__(self, keys: Iterator[Any]) -> None:
        self.keys: array.array | list = array.array("q")
        for key in keys:
            if isinstance(self.keys, array.array) and not isinstance(key, int):
                self.keys = list(self.keys)
            self.keys.append(key)

    def __len__(self) -> int:
        return len(self.keys)

    def rank(self, key: Any) -> int:
        """How many rows have a key up to `key`: a watermark's position among the rows."""
        return bisect.bisect_right(self.keys, key)

    def local(self, key: Any) -> int | None:
        position = bisect.bisect_left(self.keys, key)
        if position < len(self.keys) and self.keys[position] == key:
            return position + 1
        return None


def school_rows(spec: ExportSpec, school_pk: int, using: str) -> models.QuerySet:
    rows = spec.model._base_manager.using(using).filter(**{spec.school_path: school_pk})
    return rows if spec.left_behind is None else rows.exclude(spec.left_behind)


def build_maps(school_pk: int, using: str) -> dict[str, KeyMap]:
    return {
        spec.kind: KeyMap(
            school_rows(spec, school_pk, using)
            .order_by("pk")
            .values_list("pk", flat=True)
            .iterator(chunk_size=CHUNK)
        )
        for spec in ordered_specs()
    }


@dataclass
class PartStats:
    detached: int = 0  # references to rows outside the school, written as empty


def _columns(spec: ExportSpec) -> list[str]:
    return [f"{f.name}__sha256" if f.name in spec.blob_fields else f.attname for f in spec.fields]


def part_lines(
    spec: ExportSpec, school_pk: int, maps: dict[str, KeyMap], using: str, stats: PartStats
) -> Iterator[bytes]:
    """Every row of the part as one JSON line, in primary-key order."""
    object_ref_ids = {id_field for _, id_field in spec.object_refs}
    rows = (
        school_rows(spec, school_pk, using)
        .order_by("pk")
        .values_list(*_columns(spec))
        .iterator(chunk_size=CHUNK)
    )
    for values in rows:
        row = {}
        for f, value in zip(spec.fields, values, strict=True):
            if value is None or f.name in spec.blob_fields:
                row[f.name] = value
            elif f.name in spec.references:
                row[f.name] = maps[spec.references[f.name]].local(value)
                if row[f.name] is None:
                    if not f.null:
                        raise ExportError(
                            f"{spec.model._meta.label}.{f.name} refers to "
                            f"{spec.references[f.name]} {value}, outside the school, and "
                            "cannot be left empty."
                        )
                    stats.detached += 1
            elif f.name in spec.keys:
                row[f.name] = _keys(spec.keys[f.name], value, maps, stats)
            elif f.name in spec.watermarks:
                row[f.name] = maps[spec.watermarks[f.name]].rank(value)
            elif f.name in object_ref_ids:
                row[f.name] = value  # resolved below, once the type is known
            else:
                row[f.name] = codec.encode(value)
        for type_field, id_field in spec.object_refs:
            row[id_field] = _object_ref(row[type_field], row[id_field], maps, stats)
        yield codec.dumps_row(row)


def _keys(keys: Keys, value: str, maps: dict[str, KeyMap], stats: PartStats) -> Any:
    """ "/1/5/9/" as the local ids of those rows; a key outside the school is dropped."""
    if not value:
        return value
    locals_ = [maps[keys.kind].local(key) for key in keys.parse(value)]
    stats.detached += locals_.count(None)
    return [local for local in locals_ if local is not None]


def _object_ref(kind: str, key: str, maps: dict[str, KeyMap], stats: PartStats) -> Any:
    """A (model label, primary key) pair as a local id, or empty when it leaves the school."""
    if not kind or not key:
        return key
    target = maps.get(kind)
    local = None
    if target is not None:
        try:
            model = apps.get_model(kind)
            local = target.local(model._meta.pk.to_python(key))
        except (LookupError, ValueError, ValidationError):
            local = None
    if local is None:
        stats.detached += 1
        return ""
    return {"local": local}


def blob_queryset(school_pk: int, using: str) -> models.QuerySet:
    """Every blob the school's rows refer to, once, in sha256 order."""
    blob_model = apps.get_model("storage", "Blob")
    condition = Q(pk__in=[])
    for spec in ordered_specs():
        rows = school_rows(spec, school_pk, using)
        for name in spec.blob_fields:
            condition |= Q(pk__in=rows.filter(**{f"{name}__isnull": False}).values(name))
    return blob_model._base_manager.using(using).filter(condition).order_by("sha256")
