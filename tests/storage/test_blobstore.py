import hashlib

import pytest

from kreide.storage import blobstore
from kreide.storage.downloads import content_disposition
from kreide.storage.filenames import safe_filename
from kreide.storage.models import Blob


@pytest.fixture(autouse=True)
def _store(settings, tmp_path):
    settings.STORAGE_DIR = tmp_path / "blobs"


@pytest.mark.django_db
def test_same_content_is_stored_once():
    first = blobstore.store_bytes(b"Arbeitsblatt 7a")
    second = blobstore.store_bytes(b"Arbeitsblatt 7a")
    assert first.pk == second.pk and Blob.objects.count() == 1
    assert first.sha256 == hashlib.sha256(b"Arbeitsblatt 7a").hexdigest()
    with blobstore.open_blob(first) as stored:
        assert stored.read() == b"Arbeitsblatt 7a"
    assert not list((blobstore.backend().root / "staging").iterdir())


@pytest.mark.django_db
def test_failed_write_leaves_nothing_behind():
    def broken():
        yield b"half a file"
        raise OSError("disk gone")

    with pytest.raises(OSError):
        blobstore.store_chunks(broken())
    assert Blob.objects.count() == 0
    assert not list((blobstore.backend().root / "staging").iterdir())


@pytest.mark.django_db
@pytest.mark.parametrize("adopt", [blobstore.store_bytes, "path"])
def test_new_content_is_put_in_place_even_where_a_stale_cache_shows_it(
    adopt, monkeypatch, tmp_path
):
    """On a shared store another node's collector may just have removed the file while this
    node's file system client still reports it (GlusterFS's entry cache, NFS's attribute
    cache): the content of a new row is put in place whatever `exists` says."""
    monkeypatch.setattr(blobstore.LocalBlobBackend, "exists", lambda self, sha256: True)
    data = b"Arbeitsblatt nach dem Aufr\xc3\xa4umen"
    if adopt == "path":
        finished = tmp_path / "upload.part"
        finished.write_bytes(data)
        blob = blobstore.store_path(finished)
    else:
        blob = adopt(data)
    assert blobstore.blob_path(blob).read_bytes() == data


@pytest.mark.django_db
def test_stored_content_is_not_replaced():
    """A row that exists has its file: storing the same bytes again leaves that file (and
    its hard links in the backups) alone."""
    first = blobstore.store_bytes(b"Wochenplan")
    inode = blobstore.blob_path(first).stat().st_ino
    blobstore.store_bytes(b"Wochenplan")
    assert blobstore.blob_path(first).stat().st_ino == inode


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("../../etc/passwd", "passwd"),
        ("Lösung\x00 Aufgabe\x07.pdf", "Lösung_ Aufgabe_.pdf"),
        ("CON.txt", "_CON.txt"),
        ("...", "Datei"),
        ("a:b?.docx", "a_b_.docx"),
    ],
)
def test_safe_filename(raw, expected):
    assert safe_filename(raw) == expected


def test_safe_filename_caps_length_and_keeps_extension():
    name = safe_filename("ä" * 500 + ".pdf")
    assert name.endswith(".pdf") and len(name.encode()) <= 200


def test_content_disposition_keeps_umlauts():
    header = content_disposition('Übung "1".pdf')
    assert 'filename="Ubung _1_.pdf"' in header
    assert "filename*=UTF-8''%C3%9Cbung%20%221%22.pdf" in header
