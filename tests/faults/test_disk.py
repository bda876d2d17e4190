"""A full disk, full quotas and blocked file types: what a user sees at every way in
(tus, WebDAV, the form upload, renaming/moving/copying), what stays on disk, and that what
was acknowledged before is intact.

The disk tests put the store on a tmpfs of 2 MiB that the test mounts (root only: skipped
otherwise); a filler file takes the space, so writes fail with the kernel's own ENOSPC.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import io
import json
import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from playwright.sync_api import expect

from kreide.files import services
from kreide.files.models import Node
from kreide.files.services import Actor
from kreide.storage.blobstore import StorageFull, blob_path, store_bytes
from kreide.storage.models import Blob, Upload
from tests.conftest import PASSWORD, tmpfs

pytestmark = pytest.mark.django_db

KB = 1024
TUS = {"HTTP_TUS_RESUMABLE": "1.0.0"}
DISK_FULL = "Der Speicher des Servers ist gerade voll"


@pytest.fixture
def small_disk(tmp_path, settings):
    """STORAGE_DIR on a 2 MiB tmpfs of its own."""
    with tmpfs(tmp_path / "store", "2m") as mount:
        settings.STORAGE_DIR = mount
        settings.STORAGE_RESERVE_BYTES = 256 * KB
        yield mount


def fill(disk: Path, leave: int) -> Path:
    """A filler file that takes all free space on `disk` but about `leave` bytes."""
    filler = disk / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(descriptor, b"\0" * (64 * KB))
    except OSError as error:
        assert error.errno == errno.ENOSPC
    os.ftruncate(descriptor, max(0, os.fstat(descriptor).st_size - leave))
    os.close(descriptor)
    return filler


def staging_files(disk: Path) -> list[Path]:
    staging = disk / "staging"
    return list(staging.iterdir()) if staging.exists() else []


def intact(node: Node, content: bytes) -> bool:
    node.refresh_from_db()
    on_disk = blob_path(node.blob).read_bytes()
    return hashlib.sha256(on_disk).hexdigest() == node.blob.sha256 == sha256(content)


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


# --- tus -----------------------------------------------------------------------------------


def _meta(**values: str) -> str:
    return ",".join(
        f"{key} {base64.b64encode(value.encode()).decode()}" for key, value in values.items()
    )


def tus_create(client, length: int, folder: Node, filename: str = "Referat.pdf", **meta):
    return client.post(
        "/uploads/",
        HTTP_UPLOAD_LENGTH=str(length),
        HTTP_UPLOAD_METADATA=_meta(
            purpose=meta.pop("purpose", "file"), filename=filename, folder=str(folder.pk), **meta
        ),
        **TUS,
    )


def tus_upload_url(client, length: int, folder: Node, filename: str = "Referat.pdf") -> str:
    response = tus_create(client, length, folder, filename)
    assert response.status_code == 201, response.content
    return urlsplit(response["Location"]).path


def tus_patch(client, url: str, offset: int, data: bytes):
    return client.generic(
        "PATCH",
        url,
        data,
        content_type="application/offset+octet-stream",
        HTTP_UPLOAD_OFFSET=str(offset),
        **TUS,
    )


def tus_file(client, folder: Node, content: bytes, filename: str) -> Node:
    """A whole upload, acknowledged: the file it became."""
    response = tus_patch(client, tus_upload_url(client, len(content), folder, filename), 0, content)
    assert response.status_code == 204, response.content
    result = json.loads(response["Kreide-Upload-Result"])
    return Node.objects.for_school(folder.school_id).get(pk=result["id"])


@pytest.fixture
def student(world):
    world.student_root = services.root_of(services.personal_space(world.student_7a))
    return world.student_7a


def test_tus_full_disk_mid_upload_is_507_keeps_nothing_and_resumes(
    small_disk, student, world, client_for
):
    client = client_for(student)
    earlier_content = os.urandom(200 * KB)
    earlier = tus_file(client, world.student_root, earlier_content, "Vorher.pdf")
    content = os.urandom(600 * KB)
    url = tus_upload_url(client, len(content), world.student_root)
    filler = fill(small_disk, leave=100 * KB)

    response = tus_patch(client, url, 0, content)
    assert response.status_code == 507
    assert DISK_FULL in response.content.decode()
    assert int(response["Retry-After"]) > 0
    # Nothing of the chunk stays: the offset is where it was, the part file holds no byte.
    assert client.head(url, **TUS)["Upload-Offset"] == "0"
    assert [path.stat().st_size for path in (small_disk / "uploads").iterdir()] == [0]
    assert intact(earlier, earlier_content)

    filler.unlink()  # room again: the same upload goes on where it stopped
    response = tus_patch(client, url, 0, content)
    assert response.status_code == 204
    arrived = Node.objects.for_school(student.school_id).get(
        pk=json.loads(response["Kreide-Upload-Result"])["id"]
    )
    assert intact(arrived, content) and intact(earlier, earlier_content)


def test_tus_refuses_at_creation_what_the_disk_cannot_hold(small_disk, world, client_for):
    """Three unfinished 199 MB uploads filled a 300 MB store and others' hand-ins failed
    half-way: now an upload counts with its declared length from its creation, and the
    one that would not fit beside the others is refused before a byte is sent."""
    first, second = world.student_7a, world.classmate_7a
    first_root = services.root_of(services.personal_space(first))
    second_root = services.root_of(services.personal_space(second))
    url = tus_upload_url(client_for(first), 1200 * KB, first_root)  # nothing written yet

    response = tus_create(client_for(second), 1200 * KB, second_root)
    assert response.status_code == 507
    assert DISK_FULL in response.content.decode() and int(response["Retry-After"]) > 0
    assert not Upload.objects.for_school(second.school_id).filter(user=second).exists()

    assert client_for(first).delete(url, **TUS).status_code == 204  # given up: room again
    assert tus_create(client_for(second), 1200 * KB, second_root).status_code == 201


def test_unfinished_uploads_are_capped_per_account(world, student, client_for, settings):
    settings.UPLOAD_UNFINISHED_MAX = 2
    settings.UPLOAD_UNFINISHED_BYTES = 1000 * KB
    client = client_for(student)
    first = tus_upload_url(client, 600 * KB, world.student_root)

    response = tus_create(client, 600 * KB, world.student_root)  # 1,200 KB under way
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert "Die unfertigen Uploads belegen schon 600,0\xa0KB" in response.content.decode()
    tus_upload_url(client, 300 * KB, world.student_root)
    response = tus_create(client, 1, world.student_root)  # a third one
    assert response.status_code == 429 and "2 unfertige Uploads" in response.content.decode()

    # Somebody else is not held up by it; a finished upload no longer counts.
    classmate_root = services.root_of(services.personal_space(world.classmate_7a))
    assert tus_create(client_for(world.classmate_7a), 600 * KB, classmate_root).status_code == 201
    assert tus_patch(client, first, 0, os.urandom(600 * KB)).status_code == 204
    assert tus_create(client, 100 * KB, world.student_root).status_code == 201


def test_declared_lengths_count_against_the_folder_quota(world, student, client_for):
    space = services.personal_space(student)
    space.quota_mb = 1
    space.save()
    client = client_for(student)
    url = tus_upload_url(client, 700 * KB, world.student_root)

    response = tus_create(client, 700 * KB, world.student_root)
    assert response.status_code == 413
    assert "Nicht genug Speicherplatz" in response.content.decode()
    # Uploads into the class folder count there, not here.
    class_root = services.root_of(services.group_space(world.class_7a))
    teacher = client_for(world.teacher_7a)
    assert tus_create(teacher, 700 * KB, class_root).status_code == 201

    assert client.delete(url, **TUS).status_code == 204
    assert tus_create(client, 700 * KB, world.student_root).status_code == 201


def test_an_upload_refused_at_completion_frees_its_bytes_at_once(
    world, student, client_for, settings, tmp_path
):
    settings.STORAGE_DIR = tmp_path / "store"
    client = client_for(student)
    content = os.urandom(300 * KB)
    url = tus_upload_url(client, len(content), world.student_root)
    assert tus_patch(client, url, 0, content[: 100 * KB]).status_code == 204
    space = services.personal_space(student)
    space.quota_mb = 0  # the folder filled up (or was taken away) meanwhile
    space.save()

    response = tus_patch(client, url, 100 * KB, content[100 * KB :])
    assert response.status_code == 403
    assert "Nicht genug Speicherplatz" in response.content.decode()
    assert not Upload.objects.for_school(student.school_id).exists()
    assert not Blob.objects.filter(sha256=sha256(content)).exists()
    stored = [path for path in settings.STORAGE_DIR.rglob("*") if path.is_file()]
    assert [path.name for path in stored if path.name != "collect.lock"] == []


# --- WebDAV and the form upload ------------------------------------------------------------


def _dav(client, method: str, path: str, user, body: bytes = b"", **headers):
    token = base64.b64encode(f"{user.username}:{PASSWORD}".encode()).decode()
    return client.generic(
        method, f"/dav/{path}", body, HTTP_AUTHORIZATION=f"Basic {token}", **headers
    )


def test_webdav_put_on_a_full_disk_is_507_and_changes_nothing(small_disk, student, client):
    earlier_content = os.urandom(200 * KB)
    earlier = services.add_file(
        Actor(student),
        services.root_of(services.personal_space(student)),
        "Alt.txt",
        store_bytes(earlier_content),
    )
    fill(small_disk, leave=100 * KB)
    content = os.urandom(600 * KB)
    # With a Content-Length the PUT is refused before a byte is written; a chunked body
    # (Finder; Granian de-chunks it) runs into the full disk while it is written.
    chunked = {
        "HTTP_TRANSFER_ENCODING": "chunked",
        "CONTENT_LENGTH": "",
        "SERVER_SOFTWARE": "Granian",
    }

    for name in ("Neu.txt", "Alt.txt"):  # a new file, and new content for an existing one
        for headers in ({}, {**chunked, "wsgi.input": io.BytesIO(content)}):
            response = _dav(
                client, "PUT", f"{student.username}/{name}", student, content, **headers
            )
            assert response.status_code == 507
            assert DISK_FULL in response.content.decode()
            assert int(response["Retry-After"]) > 0
            assert staging_files(small_disk) == []
    names = Node.objects.for_school(student.school_id).filter(is_folder=False)
    assert list(names.values_list("name", flat=True)) == ["Alt.txt"]  # no 0-byte "Neu.txt"
    assert intact(earlier, earlier_content)


def test_the_blob_store_refuses_a_full_disk_and_keeps_no_half_written_file(small_disk):
    """What the form upload and every other writer of content go through."""
    fill(small_disk, leave=100 * KB)
    with pytest.raises(StorageFull):
        store_bytes(os.urandom(600 * KB))
    assert staging_files(small_disk) == []
    assert not Blob.objects.exists()


def test_uploads_leave_the_reserve_free(small_disk, student, world, client_for, settings):
    """A database or logs on the same disk keep room: uploads stop short of the reserve."""
    settings.STORAGE_RESERVE_BYTES = 1024 * KB
    response = tus_create(client_for(student), 1200 * KB, world.student_root)  # 2 MiB free
    assert response.status_code == 507 and DISK_FULL in response.content.decode()
    assert tus_create(client_for(student), 600 * KB, world.student_root).status_code == 201


def test_form_upload_on_a_full_disk_is_507_and_keeps_nothing(
    small_disk, student, world, client_for
):
    fill(small_disk, leave=100 * KB)
    response = client_for(student).post(
        f"/files/folder/{world.student_root.pk}/upload/",
        {"files": SimpleUploadedFile("Referat.pdf", os.urandom(600 * KB))},
    )
    assert response.status_code == 507
    assert DISK_FULL in response.content.decode()
    assert int(response["Retry-After"]) > 0
    assert staging_files(small_disk) == []
    assert not Node.objects.for_school(student.school_id).filter(is_folder=False).exists()


@pytest.mark.parametrize("path", ["..", "../etc/passwd", "{user}/../../x", "{user}/%2e%2e/%2e%2e/"])
@pytest.mark.parametrize("method", ["PROPFIND", "GET", "PUT", "DELETE"])
def test_webdav_paths_above_the_root_are_400_with_a_reason(student, client, path, method):
    response = _dav(client, method, path.format(user=student.username), student, b"x")
    assert response.status_code == 400
    assert "aus den eigenen WebDAV-Ordnern hinaus" in response.content.decode()


def test_webdav_put_refused_onto_an_existing_file_changes_nothing(world, student, client):
    class_root = services.root_of(services.group_space(world.class_7a))
    sheet = services.add_file(
        Actor(world.teacher_7a), class_root, "Blatt.txt", store_bytes(b"vom Lehrer")
    )
    # Read-only for a student: 403, not a 500 TypeError in end_write.
    assert _dav(client, "PUT", "7a/Blatt.txt", student, b"ueberschrieben").status_code == 403
    assert intact(sheet, b"vom Lehrer")

    own = services.add_file(Actor(student), world.student_root, "Mein.txt", store_bytes(b"mein"))
    space = services.personal_space(student)
    space.quota_mb = 0
    space.save()
    response = _dav(client, "PUT", f"{student.username}/Mein.txt", student, b"viel mehr als vorher")
    assert response.status_code == 507
    assert "Nicht genug Speicherplatz" in response.content.decode()
    assert "Retry-After" not in response  # no retry helps: the quota is full
    assert intact(own, b"mein")
    response = _dav(client, "PUT", f"{student.username}/Neu.txt", student, b"etwas")
    assert response.status_code == 507
    assert services.child(world.student_root, "Neu.txt") is None  # no 0-byte file


# --- Blocked file types --------------------------------------------------------------------


def test_blocked_types_are_refused_at_every_way_in(world, student, client, client_for, settings):
    """One list (KREIDE_UPLOAD_BLOCKED_EXTENSIONS) and one check behind every way in: an
    operator's own list applies to tus, the form upload, WebDAV PUT, MOVE and COPY, and
    renaming, moving and copying in the web UI."""
    settings.UPLOAD_BLOCKED_EXTENSIONS = frozenset({"odt"})
    refused = "Dieser Dateityp (.odt) wird nicht angenommen."
    browser = client_for(student)
    root = world.student_root
    essay = services.add_file(Actor(student), root, "Aufsatz.txt", store_bytes(b"Text"))
    folder = services.create_folder(Actor(student), root, "Deutsch")

    response = tus_create(browser, 10, root, "Aufsatz.odt")
    assert response.status_code == 415 and response.content.decode() == refused

    response = browser.post(
        f"/files/folder/{root.pk}/upload/",
        {"files": SimpleUploadedFile("Aufsatz.odt", b"odt")},
        follow=True,
    )
    assert refused in response.content.decode()

    response = browser.post(f"/files/item/{essay.pk}/rename/", {"name": "Aufsatz.odt"}, follow=True)
    assert refused in response.content.decode()

    user = student.username
    response = _dav(client, "PUT", f"{user}/Aufsatz.odt", student, b"odt")
    assert response.status_code == 403 and refused in response.content.decode()
    for method in ("MOVE", "COPY"):
        response = _dav(
            client,
            method,
            f"{user}/Aufsatz.txt",
            student,
            HTTP_DESTINATION=f"http://testserver/dav/{user}/Deutsch/Aufsatz.odt",
        )
        assert response.status_code == 403 and refused in response.content.decode()

    with pytest.raises(services.BlockedType):
        services.copy(Actor(student), essay, folder, "Kopie.odt")
    with pytest.raises(services.BlockedType):
        services.move(Actor(student), essay, folder, "Kopie.odt")
    names = Node.objects.for_school(student.school_id).filter(is_folder=False)
    assert list(names.values_list("name", flat=True)) == ["Aufsatz.txt"]
    # Types not on the operator's list pass again; folders are not files.
    assert services.rename(Actor(student), essay, "Aufsatz.exe").name == "Aufsatz.exe"
    assert services.rename(Actor(student), folder, "Deutsch.odt").name == "Deutsch.odt"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_upload_widget_says_the_storage_is_full(
    small_disk, page, sign_in, make_user, school, tmp_path
):
    """The student sees why nothing happens (and that it will be tried again), not "check
    your connection"."""
    user = make_user(school)
    root = services.root_of(services.personal_space(user))
    chosen = tmp_path / "Referat.pdf"
    chosen.write_bytes(os.urandom(600 * KB))
    fill(small_disk, leave=100 * KB)

    sign_in(page, user.username)
    page.goto(f"/files/folder/{root.pk}/")
    page.get_by_label("Dateien hochladen").set_input_files(chosen)

    status = page.locator(".upload-status")
    expect(status).to_contain_text(DISK_FULL, timeout=20_000)
    assert not Upload.objects.for_school(school.pk).exists()
