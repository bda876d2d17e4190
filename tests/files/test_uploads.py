"""Resumable uploads into folders through the shared tus endpoint (purpose "file")."""

import base64
import json

import pytest

from kreide.files import services
from kreide.files.models import FileSettings, Node

pytestmark = pytest.mark.django_db


def _metadata(**values: str) -> str:
    return ",".join(
        f"{key} {base64.b64encode(value.encode()).decode()}" for key, value in values.items()
    )


def _upload(client, folder: Node, data: bytes, filename: str, **extra: str):
    created = client.post(
        "/uploads/",
        HTTP_TUS_RESUMABLE="1.0.0",
        HTTP_UPLOAD_LENGTH=str(len(data)),
        HTTP_UPLOAD_METADATA=_metadata(
            filename=filename, purpose="file", folder=str(folder.pk), **extra
        ),
    )
    if created.status_code != 201:
        return created
    return client.generic(
        "PATCH",
        created["Location"],
        data,
        content_type="application/offset+octet-stream",
        HTTP_TUS_RESUMABLE="1.0.0",
        HTTP_UPLOAD_OFFSET="0",
    )


def test_folder_upload_recreates_its_folders(files, client_for):
    response = _upload(
        client_for(files.student_7a),
        files.student_root,
        b"png",
        "bild.png",
        relativePath="Referat/Bilder/bild.png",
    )
    assert response.status_code == 204
    result = json.loads(response["Kreide-Upload-Result"])
    node = Node.unscoped.get(pk=result["id"])
    assert [
        n.name for n in Node.unscoped.filter(pk__in=node.ancestor_ids()[1:]).order_by("path")
    ] == ["Referat", "Bilder", "bild.png"]


def test_over_quota_upload_is_refused_before_it_starts(files, client_for):
    FileSettings.objects.for_school(files.school).create(school=files.school, user_quota_mb=1)
    response = _upload(
        client_for(files.student_7a), files.student_root, b"x" * (1024 * 1024 + 1), "gross.bin"
    )
    assert response.status_code == 413
    assert "Nicht genug Speicherplatz" in response.content.decode()
    assert services.child(files.student_root, "gross.bin") is None


@pytest.mark.parametrize(
    ("who", "status"), [("student_7a", 403), ("student_7b", 404), ("other_teacher", 404)]
)
def test_upload_into_a_folder_without_write_permission(files, client_for, who, status):
    response = _upload(client_for(getattr(files, who)), files.class_root, b"x", "x.txt")
    assert response.status_code == status
