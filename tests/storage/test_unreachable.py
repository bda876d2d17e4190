"""A shared store whose server is away: the file operations answer 503 with a message in the
user's language; other errors stay errors. The real outage (a GlusterFS server killed under
two nodes) is tests/deploy/test_shared_store.py."""

import base64
import errno
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from kreide.files import services as files
from kreide.storage import blobstore, tus
from kreide.storage.blobstore import StoreUnreachable


@pytest.fixture(autouse=True)
def _store(settings, tmp_path):
    settings.STORAGE_DIR = tmp_path / "blobs"
    settings.DOWNLOAD_OFFLOAD = ""  # Python opens the file itself


def _gone(*_args, **_kwargs):
    raise OSError(errno.ENOTCONN, "Transport endpoint is not connected")


def _message(language: str) -> str:
    with translation.override(language):
        return str(StoreUnreachable().message)


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["de", "en"])
def test_a_download_says_the_store_is_unreachable(world, client_for, monkeypatch, language):
    student = world.student_7a
    root = files.root_of(files.personal_space(student))
    node = files.add_file(files.Actor(student), root, "Referat.txt", blobstore.store_bytes(b"x"))
    monkeypatch.setattr(blobstore.LocalBlobBackend, "open", _gone)
    client = client_for(student)
    client.cookies["django_language"] = language
    response = client.get(reverse("files:download", args=[node.pk]))
    assert response.status_code == 503
    assert response["Retry-After"] == str(StoreUnreachable.retry_after)
    assert _message(language) in response.content.decode()
    # A script asking for JSON gets the code.
    answer = client.get(reverse("files:download", args=[node.pk]), HTTP_ACCEPT="application/json")
    assert answer.json()["error"] == "store_unreachable"


@pytest.mark.django_db
def test_a_tus_upload_is_refused_while_the_store_is_away_and_resumes_after(
    world, client_for, monkeypatch
):
    client = client_for(world.student_7a)
    root = files.root_of(files.personal_space(world.student_7a))
    fields = {"purpose": "file", "filename": "a.txt", "folder": str(root.pk)}
    metadata = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in fields.items())
    headers = {"HTTP_TUS_RESUMABLE": "1.0.0", "HTTP_UPLOAD_METADATA": metadata}
    created = client.post("/uploads/", HTTP_UPLOAD_LENGTH="4", **headers)
    assert created.status_code == 201, created.content
    url = urlsplit(created["Location"]).path
    with monkeypatch.context() as away:
        away.setattr(tus, "uploads_dir", _gone)
        refused = _patch(client, url, b"abcd")
        assert refused.status_code == 503 and _message("de") in refused.content.decode()
    assert client.head(url, HTTP_TUS_RESUMABLE="1.0.0")["Upload-Offset"] == "0"
    assert _patch(client, url, b"abcd").status_code == 204


def _patch(client: Client, url: str, data: bytes):
    return client.generic(
        "PATCH",
        url,
        data,
        content_type="application/offset+octet-stream",
        HTTP_UPLOAD_OFFSET="0",
        HTTP_TUS_RESUMABLE="1.0.0",
    )


@pytest.mark.django_db
def test_other_errors_stay_errors(world, client_for, monkeypatch):
    """EIO on a local disk means the disk: a 500 for the operator, not "try again later"."""
    student = world.student_7a
    root = files.root_of(files.personal_space(student))
    node = files.add_file(files.Actor(student), root, "Referat.txt", blobstore.store_bytes(b"x"))

    def broken(*_args):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(blobstore.LocalBlobBackend, "open", broken)
    with pytest.raises(OSError):
        client_for(student).get(reverse("files:download", args=[node.pk]))


def test_where_nginx_sends_a_download_it_cannot_open(client):
    response = client.get(reverse("storage:unreachable"))
    assert response.status_code == 503 and _message("de") in response.content.decode()
