"""Fixtures for the tasks module: a task for class 7a and a tus upload helper."""

from __future__ import annotations

import base64
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from kreide.tasks import services
from kreide.tasks.models import Task

TUS = {"HTTP_TUS_RESUMABLE": "1.0.0"}


@pytest.fixture(autouse=True)
def _store(settings, tmp_path):
    settings.STORAGE_DIR = tmp_path / "blobs"


@pytest.fixture
def make_task(world):
    def make(teacher=None, groups=None, students=(), **fields) -> Task:
        teacher = teacher or world.teacher_7a
        fields.setdefault("title", "Arbeitsblatt Bruchrechnung")
        fields.setdefault("description", "Aufgaben **1–6**")
        fields.setdefault("starts_at", timezone.now() - timedelta(hours=1))
        fields.setdefault("due_at", timezone.now() + timedelta(days=2))
        return services.save_task(teacher, Task(**fields), groups or [world.class_7a], students)

    return make


@pytest.fixture
def task(make_task) -> Task:
    return make_task()


def tus_upload(client, data: bytes, **metadata: str):
    """Create and finish an upload with the Django test client; returns the last response
    (or the refused creation)."""
    header = ",".join(
        f"{key} {base64.b64encode(value.encode()).decode()}" for key, value in metadata.items()
    )
    created = client.post(
        "/uploads/", HTTP_UPLOAD_LENGTH=str(len(data)), HTTP_UPLOAD_METADATA=header, **TUS
    )
    if created.status_code != 201:
        return created
    return client.generic(
        "PATCH",
        urlsplit(created["Location"]).path,
        data,
        content_type="application/offset+octet-stream",
        HTTP_UPLOAD_OFFSET="0",
        **TUS,
    )
