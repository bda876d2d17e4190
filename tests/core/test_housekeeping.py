"""`kreide housekeeping` runs the daily clean-ups in the order that frees disk space."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from kreide.files import services
from kreide.files.models import Node
from kreide.files.services import Actor
from kreide.storage import blobstore
from kreide.storage.models import Blob


@pytest.mark.django_db
def test_a_file_long_in_the_trash_leaves_the_disk(world, settings, tmp_path, capsys):
    settings.STORAGE_DIR = tmp_path / "blobs"
    actor = Actor(world.student_7a)
    root = services.root_of(services.personal_space(world.student_7a))
    blob = blobstore.store_bytes(b"old homework")
    services.trash(actor, services.add_file(actor, root, "alt.txt", blob))
    month_ago = timezone.now() - timedelta(days=31)
    Node.unscoped.filter(deleted_at__isnull=False).update(deleted_at=month_ago)
    Blob.objects.filter(pk=blob.pk).update(stored_at=month_ago)

    call_command("housekeeping")

    assert not Node.unscoped.filter(name="alt.txt").exists()
    assert not Blob.objects.filter(pk=blob.pk).exists()
    assert not blobstore.blob_path(blob).exists()
    assert "1 stored contents deleted" in capsys.readouterr().out
