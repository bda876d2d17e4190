"""Exports and imports are in the school's audit log, and the round trip stays exact."""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db.models import Q

from kreide.core.models import AuditEntry
from kreide.schools.models import School
from kreide.transfer import archive, history, registry
from kreide.transfer.exporter import export_school
from kreide.transfer.importer import import_archive


def _members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}


def _comparable(path: Path) -> dict:
    return archive.parse_manifest(_members(path)[archive.MANIFEST]).comparable()


def _audit_actions(path: Path) -> list[str]:
    part = _members(path)["data/core.auditentry.jsonl"]
    return [json.loads(line)["action"] for line in part.splitlines()]


def _transfers(school) -> list[AuditEntry]:
    return list(
        AuditEntry.unscoped.filter(school=school, action__startswith="transfer.").order_by("pk")
    )


def test_export_and_import_leave_who_when_and_the_archives_checksum(world, content, tmp_path):
    path = tmp_path / "nord.kreide.tar"
    call_command("export", "--school", "nord", str(path), "--no-progress")
    data = path.read_bytes()

    [exported] = _transfers(world.school)
    assert exported.action == "transfer.exported"
    assert exported.actor is None and exported.target_label == str(world.school)
    assert exported.details["sha256"] == hashlib.sha256(data).hexdigest()
    assert exported.details["size"] == len(data)
    assert exported.details["archive"] == "nord.kreide.tar"
    assert exported.details["by"] == history.operator() != ""
    manifest = archive.parse_manifest(_members(path)[archive.MANIFEST])
    assert exported.details["rows"] == sum(part.count for part in manifest.parts)
    assert exported.details["files"] == len(manifest.blobs) > 0

    import_archive(str(path), replace=True)

    school = School.objects.get(slug="nord")
    [imported] = _transfers(school)
    assert imported.action == "transfer.imported"
    assert imported.target_id == str(school.pk)
    assert (imported.details["sha256"], imported.details["size"]) == (
        exported.details["sha256"],
        len(data),
    )
    assert imported.details["replaced"] is True
    assert imported.details["exported_at"] == manifest.raw["exported"]["at"]
    assert imported.details["by"] == history.operator()


def test_transfer_entries_stay_behind_so_the_round_trip_stays_exact(world, content, tmp_path):
    first, again, moved = (tmp_path / f"{name}.tar" for name in ("first", "again", "moved"))
    export_school("nord", first)
    export_school("nord", again)  # the first export's entry is in the log now
    assert len(_transfers(world.school)) == 2
    assert (
        _members(first)["data/core.auditentry.jsonl"]
        == (_members(again)["data/core.auditentry.jsonl"])
    )
    assert _comparable(first) == _comparable(again)

    import_archive(str(first), replace=True)
    export_school("nord", moved)

    school = School.objects.get(slug="nord")
    assert [e.action for e in _transfers(school)] == ["transfer.imported", "transfer.exported"]
    assert _comparable(moved) == _comparable(first)
    first_parts, moved_parts = _members(first), _members(moved)
    for name in first_parts:
        if name != archive.MANIFEST:
            assert moved_parts[name] == first_parts[name], name
    # Only the transfers stay behind: the school's other audit entries travel.
    actions = _audit_actions(moved)
    assert actions and not any(action.startswith("transfer.") for action in actions)


def test_rows_left_behind_need_a_reason():
    with pytest.raises(registry.RegistryError, match="needs a reason"):
        registry.leave_behind(AuditEntry, Q(action="x"), " ")
    assert registry.left_behind()[AuditEntry]
