"""Collecting stored content nothing refers to: what goes, what must stay."""

import os
import threading
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.utils import timezone

from kreide.files import services
from kreide.files.models import Node
from kreide.files.services import Actor
from kreide.messenger.models import Attachment as MessageAttachment
from kreide.storage import blobstore, collector
from kreide.storage.models import Blob, Upload
from kreide.tasks.models import Attachment as TaskAttachment
from kreide.tasks.models import SubmissionFile


@pytest.fixture(autouse=True)
def _store(settings, tmp_path):
    settings.STORAGE_DIR = tmp_path / "blobs"


def _age(*blobs: Blob, days: int = 2) -> None:
    Blob.objects.filter(pk__in=[blob.pk for blob in blobs]).update(
        stored_at=timezone.now() - timedelta(days=days)
    )


def _on_disk(blob: Blob) -> bool:
    return blobstore.blob_path(blob).exists()


def test_every_kind_of_reference_is_known():
    assert {(model, field) for model, field in collector.references()} >= {
        (Node, "blob"),
        (Upload, "blob"),
        (TaskAttachment, "blob"),
        (SubmissionFile, "blob"),
        (MessageAttachment, "blob"),
    }


@pytest.mark.django_db
def test_content_of_purged_files_goes_and_shared_content_stays(world):
    actor = Actor(world.student_7a)
    root = services.root_of(services.personal_space(world.student_7a))
    shared = blobstore.store_bytes(b"in two files")
    alone = blobstore.store_bytes(b"in one file")
    kept = services.add_file(actor, root, "a.txt", shared)
    services.add_file(actor, root, "b.txt", shared)
    services.add_file(actor, root, "c.txt", alone)
    for name in ("b.txt", "c.txt"):
        services.trash(actor, services.child(root, name))
    Node.unscoped.filter(deleted_at__isnull=False).update(
        deleted_at=timezone.now() - timedelta(days=40)
    )
    services.purge_trash()
    _age(shared, alone)

    collected = collector.collect()

    assert (collected.blobs, collected.bytes) == (1, len(b"in one file"))
    assert not Blob.objects.filter(pk=alone.pk).exists() and not _on_disk(alone)
    assert _on_disk(shared)
    with blobstore.open_blob(kept.blob) as stored:
        assert stored.read() == b"in two files"


@pytest.mark.django_db
def test_content_stored_lately_or_stored_again_stays():
    fresh = blobstore.store_bytes(b"just uploaded")
    again = blobstore.store_bytes(b"uploaded last year and again today")
    _age(again, days=365)
    blobstore.store_bytes(b"uploaded last year and again today")

    assert collector.collect().blobs == 0
    assert _on_disk(fresh) and _on_disk(again)


@pytest.mark.django_db
def test_files_without_a_record_and_interrupted_writes_are_removed_when_old():
    store = blobstore.backend()
    old_orphan = blobstore.store_bytes(b"row lost in a crash")
    new_orphan = blobstore.store_bytes(b"row being committed right now")
    Blob.objects.all().delete()
    two_days_ago = (timezone.now() - timedelta(days=2)).timestamp()
    os.utime(store.path(old_orphan.sha256), (two_days_ago, two_days_ago))
    handle, leftover = store.temporary()
    os.close(handle)
    os.utime(leftover, (two_days_ago, two_days_ago))
    _handle, fresh_leftover = store.temporary()
    os.close(_handle)

    collected = collector.collect()

    assert (collected.orphan_files, collected.blobs, collected.staging_files) == (1, 1, 1)
    assert not store.exists(old_orphan.sha256) and store.exists(new_orphan.sha256)
    assert not os.path.exists(leftover) and os.path.exists(fresh_leftover)
    assert not Blob.objects.exists()


@pytest.mark.django_db
def test_command_reports_what_it_freed(capsys):
    _age(blobstore.store_bytes(b"x" * 2**20))
    call_command("purge_blobs", "--no-progress")
    assert "1 stored contents deleted (1.0 MiB)" in capsys.readouterr().out
    assert not Blob.objects.exists()


@pytest.mark.django_db
def test_command_refuses_a_grace_period_that_could_take_an_upload_being_attached():
    fresh = blobstore.store_bytes(b"uploaded a second ago")
    with pytest.raises(CommandError, match="at least 1"):
        call_command("purge_blobs", "--no-progress", "--hours", "0")
    assert _on_disk(fresh) and Blob.objects.filter(pk=fresh.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_content_being_stored_again_during_collection_is_not_lost(world):
    """A student uploads content identical to an unreferenced old blob while the collector
    runs: the upload holds the row, the collector skips it, the file stays."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite serialises whole transactions")
    old = blobstore.store_bytes(b"the same worksheet as last year")
    _age(old, days=365)
    root = services.root_of(services.personal_space(world.student_7a))
    stored, attach = threading.Event(), threading.Event()

    def upload() -> None:
        try:
            with transaction.atomic():
                blob = blobstore.store_bytes(b"the same worksheet as last year")
                stored.set()
                attach.wait(timeout=30)
                services.add_file(Actor(world.student_7a), root, "Blatt.pdf", blob)
        finally:
            stored.set()
            connection.close()

    uploader = threading.Thread(target=upload)
    uploader.start()
    assert stored.wait(timeout=30)
    collected = collector.collect()
    attach.set()
    uploader.join(timeout=30)

    assert collected.blobs == 0
    node = services.child(root, "Blatt.pdf")
    assert node is not None and node.blob_id == old.pk
    with blobstore.open_blob(node.blob) as content:
        assert content.read() == b"the same worksheet as last year"


@pytest.mark.django_db(transaction=True)
def test_collection_waits_for_running_backups_and_exports():
    """scripts/backup.sh (from the database dump to the end of the copy) and `kreide
    export` hold collect.lock shared; a collection waits for them."""
    _age(blobstore.store_bytes(b"referred to by the dump being copied"))
    results = []

    def collect() -> None:
        try:
            results.append(collector.collect())
        finally:
            connection.close()

    with collector.content_kept(), collector.content_kept():  # two at once are fine
        collecting = threading.Thread(target=collect)
        collecting.start()
        collecting.join(timeout=1)
        assert collecting.is_alive() and not results
        assert Blob.objects.count() == 1
    collecting.join(timeout=30)
    assert results[0].blobs == 1
