"""Privacy fixtures: a file store and an export directory per test, and helpers that give
people real data through the modules' own services."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from kreide.messenger import services as messenger
from kreide.storage import blobstore
from kreide.tasks import services as tasks
from kreide.tasks.models import Submission, Task


@pytest.fixture(autouse=True)
def _dirs(settings, tmp_path):
    settings.STORAGE_DIR = tmp_path / "blobs"
    settings.PRIVACY_EXPORT_DIR = tmp_path / "privacy"


@pytest.fixture
def hand_in(world):
    """A task for 7a (due in two days) with `student`'s handed-in text and file."""

    def make(student, content: bytes, filename: str = "aufsatz.txt", task: Task | None = None):
        task = task or tasks.save_task(
            world.teacher_7a,
            Task(
                title="Aufsatz",
                description="Schreibe",
                starts_at=timezone.now() - timedelta(hours=1),
                due_at=timezone.now() + timedelta(days=2),
                expects=Task.Expects.BOTH,
            ),
            [world.class_7a],
            (),
        )
        blob = blobstore.store_bytes(content)
        tasks.add_file(student, task, blob, filename, timezone.now())
        tasks.save_text(student, task, "Mein Text")
        return tasks.hand_in(student, task)

    return make


@pytest.fixture
def room(world):
    return messenger.sync_group_room(world.class_7a)


def age(queryset, field: str, days: int) -> None:
    """Move rows `days` into the past (the tests' time travel for stored timestamps)."""
    for row in queryset:
        type(row)._base_manager.filter(pk=row.pk).update(
            **{field: getattr(row, field) - timedelta(days=days)}
        )


def review(teacher, submission: Submission, text: str = "Gut gemacht") -> Submission:
    return tasks.review(teacher, submission, text)
