"""The tus 1.0 server: protocol, checksum, termination, resumption with a real tus client."""

import base64
import hashlib
import json
import socket
from urllib.parse import urlsplit

import pytest
from django.urls import reverse
from tusclient import client as tus_client

from kreide.storage import blobstore, tus
from kreide.storage.models import Upload
from kreide.storage.uploads import UploadPurpose, UploadRefused, register_purpose

TUS = {"HTTP_TUS_RESUMABLE": "1.0.0"}
CSRF = "k" * 32


class NotePurpose(UploadPurpose):
    """A purpose of this test module: files up to 1 MB, no .exe, results name the blob."""

    name = "test-note"
    completed: list = []

    def authorize(self, user, metadata, size):
        if size > 1024 * 1024:
            raise UploadRefused("Zu groß", status=413)
        if metadata.get("filename", "").endswith(".exe"):
            raise UploadRefused("Dateityp nicht erlaubt", status=415)

    def complete(self, user, blob, filename, metadata):
        self.completed.append((user.pk, blob.sha256, filename, metadata))
        return {"sha256": blob.sha256, "filename": filename, "started_at": metadata["started_at"]}


register_purpose(NotePurpose())


@pytest.fixture(autouse=True)
def _store(settings, tmp_path):
    settings.STORAGE_DIR = tmp_path / "blobs"
    NotePurpose.completed.clear()


def _meta(**values: str) -> str:
    return ",".join(
        f"{key} {base64.b64encode(value.encode()).decode()}" for key, value in values.items()
    )


def _create(client, length: int, **meta) -> str:
    meta.setdefault("purpose", "test-note")
    meta.setdefault("filename", "Lösung.txt")
    response = client.post(
        "/uploads/", HTTP_UPLOAD_LENGTH=str(length), HTTP_UPLOAD_METADATA=_meta(**meta), **TUS
    )
    assert response.status_code == 201, response.content
    return urlsplit(response["Location"]).path


def _patch(client, url: str, offset: int, data: bytes, **headers):
    return client.generic(
        "PATCH",
        url,
        data,
        content_type="application/offset+octet-stream",
        HTTP_UPLOAD_OFFSET=str(offset),
        **TUS,
        **headers,
    )


def _create_with(client, length: int, body: bytes, **headers):
    """A creation that carries `body` (creation-with-upload)."""
    meta = {"purpose": "test-note", "filename": "Lösung.txt"}
    meta.update(headers.pop("meta", {}))
    return client.post(
        "/uploads/",
        body,
        content_type="application/offset+octet-stream",
        HTTP_UPLOAD_LENGTH=str(length),
        HTTP_UPLOAD_METADATA=_meta(**meta),
        **TUS,
        **headers,
    )


def _stored_files(root) -> list:
    return [path for path in root.rglob("*") if path.is_file() and len(path.name) == 64]


def _sha1(data: bytes) -> str:
    # tus clients default to SHA-1 for chunk integrity (not for security).
    return "sha1 " + base64.b64encode(hashlib.sha1(data).digest()).decode()  # noqa: S324


def test_options_announce_version_extensions_and_checksums(client, db):
    response = client.options("/uploads/")
    assert response.status_code == 204
    assert response["Tus-Version"] == "1.0.0"
    assert set(response["Tus-Extension"].split(",")) == {
        "creation",
        "creation-with-upload",
        "termination",
        "checksum",
    }
    assert "sha1" in response["Tus-Checksum-Algorithm"].split(",")


def _broken_off(url: str, method: str, headers: str, session: str, body: bytes) -> bytes:
    """Announces 100,000 bytes, sends `body` (fewer), closes its side: the server's answer."""
    target = urlsplit(url)
    with socket.create_connection((target.hostname, target.port), timeout=10) as raw:
        raw.sendall(
            (
                f"{method} {target.path} HTTP/1.1\r\nHost: {target.netloc}\r\n"
                f"Tus-Resumable: 1.0.0\r\nContent-Type: application/offset+octet-stream\r\n"
                f"{headers}\r\nContent-Length: 100000\r\n"
                f"Cookie: sessionid={session}; csrftoken={CSRF}\r\nX-CSRFToken: {CSRF}\r\n\r\n"
            ).encode()
            + body
        )
        raw.shutdown(socket.SHUT_WR)
        return b"".join(iter(lambda: raw.recv(4096), b""))


@pytest.mark.django_db
def test_upload_in_two_chunks_is_adopted_and_handed_to_its_purpose(world, client_for):
    client = client_for(world.student_7a)
    data = b"Aufgabe 1: 3/4 + 1/8 = 7/8\n" * 100
    url = _create(client, len(data), filename="../../Lösung\x00.txt")
    first = _patch(client, url, 0, data[:1000])
    assert first.status_code == 204 and first["Upload-Offset"] == "1000"
    assert "Kreide-Upload-Result" not in first
    head = client.head(url, **TUS)
    assert head["Upload-Offset"] == "1000" and head["Upload-Length"] == str(len(data))
    assert "no-store" in head["Cache-Control"]
    last = _patch(client, url, 1000, data[1000:], HTTP_UPLOAD_CHECKSUM=_sha1(data[1000:]))
    assert last.status_code == 204 and last["Upload-Offset"] == str(len(data))
    result = json.loads(last["Kreide-Upload-Result"])
    assert result["sha256"] == hashlib.sha256(data).hexdigest()
    assert result["filename"] == "Lösung.txt"
    assert client.get(f"{url}/result").json() == result
    upload = Upload.objects.for_school(world.school).get()
    with blobstore.open_blob(upload.blob) as stored:
        assert stored.read() == data
    assert not tus.part_path(upload).exists()
    # Completion happens once, however often the client asks.
    assert len(NotePurpose.completed) == 1
    assert NotePurpose.completed[0][3]["started_at"] == upload.created_at.isoformat()


@pytest.mark.django_db
def test_a_small_file_sent_with_its_creation_is_complete_in_one_request(world, client_for):
    client = client_for(world.student_7a)
    data = b"Aufgabe 2: 5/6 - 1/3 = 1/2\n" * 50
    created = _create_with(client, len(data), data, HTTP_UPLOAD_CHECKSUM=_sha1(data))
    assert created.status_code == 201, created.content
    assert created["Upload-Offset"] == str(len(data))
    result = json.loads(created["Kreide-Upload-Result"])
    assert result["sha256"] == hashlib.sha256(data).hexdigest()
    url = urlsplit(created["Location"]).path
    assert client.get(f"{url}/result").json() == result
    assert client.head(url, **TUS)["Upload-Offset"] == str(len(data))
    upload = Upload.objects.for_school(world.school).get()
    assert url == reverse("storage:upload", args=[upload.pk])
    assert upload.completed_at is not None and upload.offset == upload.length == len(data)
    with blobstore.open_blob(upload.blob) as stored:
        assert stored.read() == data
    assert not tus.part_path(upload).exists()
    assert len(NotePurpose.completed) == 1
    assert NotePurpose.completed[0][3]["started_at"] == upload.created_at.isoformat()
    assert NotePurpose.completed[0][3]["upload_id"] == str(upload.pk)


@pytest.mark.django_db
def test_a_first_chunk_sent_with_the_creation_resumes_with_patch(world, client_for):
    client = client_for(world.student_7a)
    data = bytes(range(256)) * 20
    created = _create_with(client, len(data), data[:1000])
    assert created.status_code == 201, created.content
    assert created["Upload-Offset"] == "1000" and "Kreide-Upload-Result" not in created
    url = urlsplit(created["Location"]).path
    upload = Upload.objects.for_school(world.school).get()
    assert tus.part_path(upload).read_bytes() == data[:1000]
    assert client.head(url, **TUS)["Upload-Offset"] == "1000"
    assert _patch(client, url, 0, data).status_code == 409  # not from the start again
    last = _patch(client, url, 1000, data[1000:], HTTP_UPLOAD_CHECKSUM=_sha1(data[1000:]))
    assert last.status_code == 204 and last["Upload-Offset"] == str(len(data))
    assert json.loads(last["Kreide-Upload-Result"])["sha256"] == hashlib.sha256(data).hexdigest()


@pytest.mark.django_db
def test_a_body_beyond_what_is_read_into_memory_is_streamed(world, client_for, monkeypatch):
    monkeypatch.setattr(tus, "CREATION_BODY_IN_MEMORY", 100)
    client = client_for(world.student_7a)
    data = bytes(range(256)) * 4
    whole = _create_with(client, len(data), data)
    assert whole.status_code == 201 and whole["Upload-Offset"] == str(len(data))
    assert json.loads(whole["Kreide-Upload-Result"])["sha256"] == hashlib.sha256(data).hexdigest()
    first = _create_with(client, len(data), data[:500], meta={"filename": "zwei.txt"})
    assert first.status_code == 201 and first["Upload-Offset"] == "500"
    url = urlsplit(first["Location"]).path
    assert _patch(client, url, 500, data[500:]).status_code == 204
    damaged = _create_with(client, len(data), data, HTTP_UPLOAD_CHECKSUM=_sha1(b"x"))
    assert damaged.status_code == 460
    assert [u.offset for u in Upload.objects.for_school(world.school)] == [1024, 1024]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "length,body,headers,status,reason",
    [
        (2 * 1024 * 1024, b"x" * (2 * 1024 * 1024), {}, 413, "Zu groß"),
        (10, b"x" * 11, {}, 413, "Upload-Length"),
        (10**12, b"x" * 10, {}, 413, "MB"),
        (10, b"x" * 10, {"meta": {"filename": "x.exe"}}, 415, "nicht"),
        (10, b"x" * 10, {"HTTP_UPLOAD_CHECKSUM": _sha1(b"y" * 10)}, 460, "Prüfsumme"),
        (10, b"x" * 10, {"HTTP_UPLOAD_CHECKSUM": "crc32 AAAA"}, 400, "Prüfsumme"),
    ],
)
def test_a_refused_creation_with_upload_keeps_nothing(
    world, client_for, settings, length, body, headers, status, reason
):
    response = _create_with(client_for(world.student_7a), length, body, **headers)
    assert response.status_code == status
    assert reason in response.content.decode()
    assert not Upload.objects.for_school(world.school).exists()
    assert not NotePurpose.completed
    assert not _stored_files(settings.STORAGE_DIR)


@pytest.mark.django_db
def test_creation_with_upload_needs_a_signed_in_user(world, client):
    response = _create_with(client, 3, b"abc")
    assert response.status_code == 401 and "anmelden" in response.content.decode()
    assert not Upload.objects.for_school(world.school).exists()


@pytest.mark.django_db
def test_tampered_chunk_is_refused_and_keeps_what_was_stored(world, client_for):
    client = client_for(world.student_7a)
    data = bytes(range(256)) * 40
    url = _create(client, len(data))
    assert (
        _patch(client, url, 0, data[:4000], HTTP_UPLOAD_CHECKSUM=_sha1(data[:4000])).status_code
        == 204
    )
    tampered = b"X" + data[4001:8000]
    refused = _patch(client, url, 4000, tampered, HTTP_UPLOAD_CHECKSUM=_sha1(data[4000:8000]))
    assert refused.status_code == 460
    assert "Prüfsumme" in refused.content.decode()
    assert client.head(url, **TUS)["Upload-Offset"] == "4000"
    upload = Upload.objects.for_school(world.school).get()
    assert tus.part_path(upload).read_bytes() == data[:4000]
    assert (
        _patch(client, url, 4000, data[4000:], HTTP_UPLOAD_CHECKSUM=_sha1(data[4000:])).status_code
        == 204
    )
    assert client.get(f"{url}/result").json()["sha256"] == hashlib.sha256(data).hexdigest()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "headers,status",
    [
        ({}, 412),  # no Tus-Resumable
        ({**TUS, "HTTP_UPLOAD_LENGTH": "-1"}, 400),
        ({**TUS, "HTTP_UPLOAD_LENGTH": "abc"}, 400),
        ({**TUS}, 400),  # no Upload-Length
        ({**TUS, "HTTP_UPLOAD_LENGTH": "5", "HTTP_UPLOAD_DEFER_LENGTH": "1"}, 400),
        ({**TUS, "HTTP_UPLOAD_LENGTH": "5", "HTTP_UPLOAD_METADATA": "filename !!!"}, 400),
        ({**TUS, "HTTP_UPLOAD_LENGTH": "5", "HTTP_UPLOAD_METADATA": "a YQ==,a YQ=="}, 400),
        ({**TUS, "HTTP_UPLOAD_LENGTH": "5", "HTTP_UPLOAD_METADATA": _meta(purpose="nope")}, 400),
        (
            {
                **TUS,
                "HTTP_UPLOAD_LENGTH": "5",
                "HTTP_UPLOAD_METADATA": _meta(purpose="test-note", filename="x.exe"),
            },
            415,
        ),
        (
            {
                **TUS,
                "HTTP_UPLOAD_LENGTH": str(2 * 1024 * 1024),
                "HTTP_UPLOAD_METADATA": _meta(purpose="test-note", filename="x.pdf"),
            },
            413,
        ),
        (
            {
                **TUS,
                "HTTP_UPLOAD_LENGTH": str(10**12),
                "HTTP_UPLOAD_METADATA": _meta(purpose="test-note", filename="x.pdf"),
            },
            413,
        ),
    ],
)
def test_malformed_or_refused_creation_gets_4xx_with_reason(world, client_for, headers, status):
    response = client_for(world.student_7a).post("/uploads/", **headers)
    assert response.status_code == status
    assert response.content.strip(), "every refusal says why"
    assert not Upload.objects.for_school(world.school).exists()


@pytest.mark.django_db
def test_malformed_patches_get_4xx_and_change_nothing(world, client_for):
    client = client_for(world.student_7a)
    url = _create(client, 10)
    assert (
        client.generic(
            "PATCH", url, b"abc", content_type="text/plain", HTTP_UPLOAD_OFFSET="0", **TUS
        ).status_code
        == 415
    )
    assert _patch(client, url, 3, b"abc").status_code == 409
    assert _patch(client, url, 0, b"x" * 11).status_code == 413
    assert (
        client.generic(
            "PATCH", url, b"abc", content_type="application/offset+octet-stream", **TUS
        ).status_code
        == 400
    )
    assert _patch(client, url, 0, b"abc", HTTP_UPLOAD_CHECKSUM="crc32 AAAA").status_code == 400
    assert client.head(url, **TUS)["Upload-Offset"] == "0"
    assert client.get(f"{url}/result").status_code == 409


@pytest.mark.django_db
def test_uploads_belong_to_their_user(world, client_for, client):
    url = _create(client_for(world.student_7a), 10)
    for intruder in (client_for(world.classmate_7a), client_for(world.other_student)):
        assert intruder.head(url, **TUS).status_code == 404
        assert _patch(intruder, url, 0, b"0123456789").status_code == 404
        assert intruder.delete(url, **TUS).status_code == 404
        assert intruder.get(f"{url}/result").status_code == 404
    signed_out = client.post("/uploads/", HTTP_UPLOAD_LENGTH="3", **TUS)
    assert signed_out.status_code == 401 and "anmelden" in signed_out.content.decode()
    world.student_7a.is_active = False
    world.student_7a.save()
    assert client_for(world.student_7a).head(url, **TUS).status_code == 401


@pytest.mark.django_db
def test_termination_removes_the_partial_data(world, client_for):
    client = client_for(world.student_7a)
    url = _create(client, 10)
    _patch(client, url, 0, b"01234")
    part = tus.part_path(Upload.objects.for_school(world.school).get())
    assert client.delete(url, **TUS).status_code == 204
    assert not part.exists()
    assert client.head(url, **TUS).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_interrupted_upload_resumes_with_tuspy(world, live_server, tmp_path):
    from django.test import Client

    browser_like = Client()
    browser_like.force_login(world.student_7a)
    session = browser_like.cookies["sessionid"].value
    headers = {"Cookie": f"sessionid={session}; csrftoken={CSRF}", "X-CSRFToken": CSRF}
    data = bytes((i * 7) % 251 for i in range(300_000))
    source = tmp_path / "Lösung.bin"
    source.write_bytes(data)
    endpoint = live_server.url + reverse("storage:uploads")

    first = tus_client.TusClient(endpoint, headers=headers).uploader(
        file_path=str(source),
        chunk_size=100_000,
        metadata={"purpose": "test-note", "filename": "Lösung.bin"},
    )
    first.upload_chunk()
    assert first.offset == 100_000

    # The connection drops in the middle of the next chunk: half of it is sent, then the
    # socket closes. The server keeps what arrived.
    answer = _broken_off(
        first.url, "PATCH", "Upload-Offset: 100000", session, data[100_000:150_000]
    )
    assert b"Upload-Offset: 150000" in answer

    resumed = tus_client.TusClient(endpoint, headers=headers).uploader(
        file_path=str(source), chunk_size=64_000, url=first.url, upload_checksum=True
    )
    assert resumed.offset == 150_000
    resumed.upload()
    assert resumed.offset == len(data)
    upload = Upload.objects.for_school(world.school).get()
    assert upload.blob.sha256 == hashlib.sha256(data).hexdigest()
    assert upload.result["sha256"] == upload.blob.sha256
    with blobstore.open_blob(upload.blob) as stored:
        assert stored.read() == data


@pytest.mark.django_db(transaction=True)
def test_a_creation_whose_body_breaks_off_keeps_nothing(world, live_server):
    from django.test import Client

    browser_like = Client()
    browser_like.force_login(world.student_7a)
    session = browser_like.cookies["sessionid"].value
    headers = (
        f"Upload-Length: 100000\r\nUpload-Metadata: {_meta(purpose='test-note', filename='a.txt')}"
    )
    answer = _broken_off(live_server.url + "/uploads/", "POST", headers, session, b"x" * 50_000)
    assert answer.startswith(b"HTTP/1.1 400")
    assert not Upload.objects.for_school(world.school).exists()


@pytest.mark.django_db
def test_purge_forgets_stale_uploads_and_their_partial_data(world, client_for):
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    client = client_for(world.student_7a)
    stale_url, fresh_url = _create(client, 10), _create(client, 10)
    _patch(client, stale_url, 0, b"01234")
    stale = Upload.objects.for_school(world.school).get(pk=stale_url.rsplit("/", 1)[-1])
    Upload.objects.for_school(world.school).filter(pk=stale.pk).update(
        updated_at=timezone.now() - timedelta(days=8)
    )
    call_command("purge_uploads", "--days", "7")
    assert not tus.part_path(stale).exists()
    assert client.head(stale_url, **TUS).status_code == 404
    assert client.head(fresh_url, **TUS).status_code == 200


def test_metadata_values_lose_control_characters_and_nothing_else():
    values = {"filename": "Lö sung\x00\t\x1b.txt", "note": "Übung 3 – Seite 4 ✓", "empty": ""}
    header = ",".join(
        f"{key} {base64.b64encode(value.encode()).decode()}" for key, value in values.items()
    )
    assert tus.parse_metadata(header) == {
        "filename": "Lö sung.txt",
        "note": "Übung 3 – Seite 4 ✓",
        "empty": "",
    }
