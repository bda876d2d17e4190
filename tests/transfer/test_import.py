"""Import into the same kind of deployment: keys remapped, meaning kept, all or nothing."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest
from django.contrib.auth.hashers import check_password
from django.core.management import call_command
from django.core.management.base import CommandError
from django_otp.plugins.otp_totp.models import TOTPDevice

from kreide.accounts.models import UpstreamProvider, User
from kreide.core.models import AuditEntry
from kreide.files.models import AppPassword, Node
from kreide.messenger.models import Message, Room, RoomMember
from kreide.news.models import NewsAttachment, Receipt
from kreide.schools.models import School
from kreide.storage.blobstore import open_blob
from kreide.storage.models import Blob, Upload
from kreide.transfer import archive, registry
from kreide.transfer.exporter import export_school
from kreide.transfer.importer import ImportRefused, import_archive
from kreide.transfer.serialize import ExportError
from tests.conftest import PASSWORD
from tests.transfer.content import PHOTO, WORKSHEET


def _delete_school(slug: str) -> None:
    School.objects.filter(slug=slug).delete()


def test_import_remaps_keys_and_keeps_meaning(world, content, archive_path):
    usernames = sorted(User.objects.for_school(world.school).values_list("username", flat=True))
    old_ids = {"folder": content.moved_folder.pk, "room": content.direct_room.pk}
    _delete_school("nord")

    result = import_archive(str(archive_path))

    school = School.objects.get(slug="nord")
    assert result.school_pk == school.pk
    users = User.objects.for_school(school)
    assert sorted(users.values_list("username", flat=True)) == usernames
    student = users.get(username=world.student_7a.username)
    assert check_password(PASSWORD, student.password)  # everyone keeps their password
    assert TOTPDevice.objects.get(user__username=world.teacher_7a.username).key == (
        "3132333435363738393031323334353637383930"
    )
    # Denormalised keys follow their rows: tree paths, direct-room keys, read marks, audit.
    folder = Node.unscoped.get(school=school, name="Mathe")
    assert folder.pk != old_ids["folder"]
    archive_folder = Node.unscoped.get(school=school, name="Archiv")
    assert folder.parent_id == archive_folder.pk
    assert folder.path == f"{archive_folder.path}{folder.pk}/"
    photo = Node.unscoped.get(school=school, name="foto.bin")
    assert photo.path == f"{folder.path}{photo.pk}/"
    room = Room.unscoped.get(school=school, kind=Room.Kind.DIRECT)
    pair = sorted(room.members.values_list("user_id", flat=True))
    assert room.direct_key == f"{pair[0]}-{pair[1]}"
    reader = RoomMember.unscoped.get(room=room, user__username=world.classmate_7a.username)
    second = Message.unscoped.filter(room=room).order_by("pk")[1]
    assert reader.last_read_id == second.pk
    entry = AuditEntry.unscoped.exclude(action__startswith="transfer.").get(school=school)
    assert entry.target_id == str(student.pk)
    with open_blob(photo.blob) as stored:
        assert stored.read() == PHOTO
    # A parent letter keeps its class, its receipt's child and parent, and its file.
    receipt = Receipt.unscoped.select_related("news", "child", "parent").get(school=school)
    assert receipt.child == student and receipt.parent.username == "eltern.transfer"
    assert [g.name for g in receipt.news.groups.all()] == ["7a"]
    assert receipt.news.groups.get().school_id == school.pk
    with open_blob(NewsAttachment.unscoped.get(school=school).blob) as stored:
        assert stored.read() == WORKSHEET
    # The provider and the external ID arrive; the client secret stays behind.
    provider = UpstreamProvider.objects.for_school(school).get()
    assert (provider.issuer, provider.claim, provider.secret_sealed) == (
        "https://login.land.example",
        "schoolPersonId",
        "",
    )
    assert provider.identities.get().user == student


def test_existing_school_is_refused_unless_replaced(world, content, archive_path):
    with pytest.raises(ImportRefused, match="'nord' already exists"):
        import_archive(str(archive_path))
    assert School.objects.filter(slug="nord").get().pk == world.school.pk

    import_archive(str(archive_path), replace=True)

    school = School.objects.get(slug="nord")
    assert school.pk != world.school.pk
    assert User.objects.for_school(school).count() == 7  # the world's six and a parent
    assert School.objects.filter(pk=world.school.pk).count() == 0
    assert User.objects.for_school(world.other_school).count() == 3  # untouched


def test_username_taken_in_another_school_is_named_and_nothing_imported(
    world, content, archive_path
):
    taken = world.student_7a.username
    _delete_school("nord")
    User.objects.create(school=world.other_school, username=taken.upper())
    with pytest.raises(CommandError, match=f"{taken}.*Nothing was imported"):
        call_command("import", str(archive_path), "--no-progress")
    assert not School.objects.filter(slug="nord").exists()


def test_a_value_the_database_refuses_rolls_everything_back(world, content, archive_path):
    _delete_school("nord")
    # App password hashes are unique in the whole deployment; this one is taken here.
    AppPassword.unscoped.create(
        school=world.other_school, user=world.other_student, name="x", secret_sha256="ab" * 32
    )
    with pytest.raises(CommandError, match="database refused the data.*Nothing was imported"):
        call_command("import", str(archive_path), "--no-progress")
    assert not School.objects.filter(slug="nord").exists()
    assert not User.objects.filter(username=world.student_7a.username).exists()


def _rewrite(source: Path, target: Path, change) -> None:
    """Write a copy of an archive whose members `change(members)` has edited."""
    with tarfile.open(source) as old:
        members = {m.name: old.extractfile(m).read() for m in old.getmembers()}
    with tarfile.open(target, "w") as new:
        for name, data in change(members).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            new.addfile(info, io.BytesIO(data))


def _flip_last_byte(data: bytes) -> bytes:
    return data[:-2] + bytes([data[-2] ^ 1]) + data[-1:]


def _edit(name_of, edit):
    def change(members: dict[str, bytes]) -> dict[str, bytes]:
        name = name_of(members)
        return {**members, name: edit(members[name])}

    return change


def _edit_manifest(edit):
    def rewrite(data: bytes) -> bytes:
        manifest = json.loads(data)
        edit(manifest)
        return json.dumps(manifest).encode()

    return _edit(lambda members: archive.MANIFEST, rewrite)


def _with_extra_file(members: dict[str, bytes]) -> dict[str, bytes]:
    manifest = members.pop(archive.MANIFEST)
    return {**members, "data/extra.jsonl": b"{}\n", archive.MANIFEST: manifest}


BAD_ARCHIVES = {
    "truncated": (None, "truncated"),
    "data altered": (
        _edit(lambda members: "data/accounts.user.jsonl", _flip_last_byte),
        "data/accounts.user.jsonl does not match its SHA-256",
    ),
    "file altered": (
        _edit(lambda members: next(n for n in members if n.startswith("blobs/")), _flip_last_byte),
        "blobs/[0-9a-f]{64} does not match its SHA-256",
    ),
    "row count does not match": (
        _edit_manifest(lambda m: m["parts"][2].update(count=m["parts"][2]["count"] + 1)),
        "rows, the manifest says",
    ),
    "unknown format version": (
        _edit_manifest(lambda m: m.update(format_version=99)),
        "Unknown archive format version 99",
    ),
    "manifest missing": (
        lambda members: {n: d for n, d in members.items() if n != archive.MANIFEST},
        "manifest.json is missing",
    ),
    "file not in the manifest": (_with_extra_file, "Not listed in the manifest: data/extra.jsonl"),
}


@pytest.mark.parametrize("case", BAD_ARCHIVES)
def test_bad_archive_is_refused_by_name_and_nothing_is_imported(
    case, world, content, archive_path, blob_store, tmp_path
):
    change, message = BAD_ARCHIVES[case]
    bad = tmp_path / "bad.tar"
    if change is None:
        bad.write_bytes(archive_path.read_bytes()[: archive_path.stat().st_size * 2 // 3])
    else:
        _rewrite(archive_path, bad, change)
    _delete_school("nord")
    users, blobs = User.objects.count(), Blob.objects.count()
    files = sorted(blob_store.rglob("*"))

    with pytest.raises(CommandError, match=message):
        call_command("verify", str(bad), "--no-progress")
    with pytest.raises(CommandError, match=f"{message}.*Nothing was imported"):
        call_command("import", str(bad), "--no-progress")

    assert not School.objects.filter(slug="nord").exists()
    assert (User.objects.count(), Blob.objects.count()) == (users, blobs)
    assert sorted(blob_store.rglob("*")) == files


def test_verify_accepts_an_intact_archive(archive_path, capsys):
    call_command("verify", str(archive_path), "--no-progress")
    assert "is intact: school nord" in capsys.readouterr().out


def test_export_refuses_a_damaged_file_store_and_leaves_no_archive(world, content, tmp_path):
    blob = Blob.objects.get(sha256=hashlib.sha256(PHOTO).hexdigest())
    stored = tmp_path / "blobs" / blob.sha256[:2] / blob.sha256[2:4] / blob.sha256
    stored.write_bytes(b"x" + PHOTO[1:])
    out = tmp_path / "out" / "nord.tar"
    out.parent.mkdir()
    with pytest.raises(ExportError, match=f"File {blob.sha256} in the blob store is damaged"):
        export_school("nord", out)
    assert list(out.parent.iterdir()) == []


def test_rows_with_their_own_keys_keep_them(world, content, tmp_path):
    """A model whose primary key is not a counter (here a UUID) keeps its keys."""
    saved = dict(registry._registrations)
    registry.register(Upload)
    try:
        upload = Upload.unscoped.create(
            school=world.school,
            user=world.student_7a,
            purpose="test",
            filename="a.txt",
            length=3,
            metadata={"b": [1, 2], "a": "ü"},
        )
        path = tmp_path / "with-uploads.tar"
        export_school("nord", path)
        _delete_school("nord")
        import_archive(str(path))
        moved = Upload.unscoped.get(pk=upload.pk)
    finally:
        registry._registrations.clear()
        registry._registrations.update(saved)
        registry.ordered_specs.cache_clear()
    assert moved.user.username == world.student_7a.username
    assert moved.user_id != world.student_7a.pk
    assert moved.metadata == {"b": [1, 2], "a": "ü"}
