"""Upload purposes of the tasks module: worksheets (teachers) and submissions (students)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils.translation import gettext as _

from kreide.schools import access
from kreide.storage.models import Blob
from kreide.storage.uploads import Stored, UploadPurpose, UploadRefused
from kreide.tasks import services
from kreide.tasks.models import Task


def _task_for(user, metadata: dict[str, str], required: bool = True) -> tuple[Task | None, bool]:
    """The task the upload names, if the user may see it, and whether they manage it."""
    raw = metadata.get("task", "")
    if not raw:
        if required:
            raise UploadRefused(_("The upload does not say which task it is for."), status=400)
        return None, False
    if not raw.isdigit():
        raise UploadRefused(_("The upload does not say which task it is for."), status=400)
    try:
        return services.get_task_for(user, int(raw))
    except PermissionDenied as exc:
        raise UploadRefused(_("You cannot upload files to this task.")) from exc


class SubmissionPurpose(UploadPurpose):
    name = "task-submission"

    def authorize(self, user, metadata: dict[str, str], size: int) -> None:
        # A task the user sees and does not manage is one of theirs (student_tasks()).
        task, managed = _task_for(user, metadata)
        _check_file(task, size)
        try:
            services.check_can_submit(
                user, task, services.my_submission(user, task), assigned=not managed
            )
        except PermissionDenied as refused:
            raise UploadRefused(
                str(refused) or _("You cannot upload files to this task.")
            ) from refused

    def complete(self, user, blob: Blob, filename: str, metadata: dict[str, str]) -> dict[str, Any]:
        task, managed = _task_for(user, metadata)
        return _add(user, task, managed, blob, filename, metadata)

    def complete_at_once(
        self, user, metadata: dict[str, str], size: int, store: Callable[[], Stored]
    ) -> dict[str, Any]:
        # The task looked up once; whether the submission may change is checked by
        # add_file() under the submission's lock, as at any completion.
        task, managed = _task_for(user, metadata)
        _check_file(task, size)
        blob, metadata = store()
        return _add(user, task, managed, blob, metadata["filename"], metadata)


def _check_file(task: Task, size: int) -> None:
    if not task.accepts_files:
        raise UploadRefused(_("This task expects no files."))
    if size > task.max_file_bytes:
        raise UploadRefused(
            _("The file is too large: at most %(limit)s MB per file.")
            % {"limit": task.max_file_mb},
            status=413,
        )


def _add(user, task: Task, managed: bool, blob: Blob, filename: str, metadata) -> dict[str, Any]:
    try:
        added = services.add_file(
            user,
            task,
            blob,
            filename,
            datetime.fromisoformat(metadata["started_at"]),
            assigned=not managed,
        )
    except PermissionDenied as refused:
        raise UploadRefused(str(refused) or _("You cannot upload files to this task.")) from refused
    return {
        "id": added.pk,
        "task": task.pk,
        "filename": added.filename,
        "size": blob.size,
        "sha256": blob.sha256,
        "late": added.submission.late,
        "url": reverse("tasks:submission-file", args=[task.pk, added.pk]),
    }


class AttachmentPurpose(UploadPurpose):
    """Worksheets: for an existing task (metadata `task`) or for one being created, in which
    case the form picks the upload up by its id when it is saved."""

    name = "task-attachment"

    def authorize(self, user, metadata: dict[str, str], size: int) -> None:
        task = _task_for(user, metadata, required=False)[0]
        if not access.taught_groups(user).exists() or (
            task is not None and not services.can_manage(user, task)
        ):
            raise UploadRefused(_("Only teachers of the class can add worksheets."))

    def complete(self, user, blob: Blob, filename: str, metadata: dict[str, str]) -> dict[str, Any]:
        task = _task_for(user, metadata, required=False)[0]
        result = {
            "upload": metadata["upload_id"],
            "filename": filename,
            "size": blob.size,
            "sha256": blob.sha256,
        }
        if task is not None:
            try:
                attachment = services.add_attachment(user, task, blob, filename)
            except PermissionDenied as exc:
                raise UploadRefused(_("Only teachers of the class can add worksheets.")) from exc
            result.update(
                id=attachment.pk,
                task=task.pk,
                url=reverse("tasks:attachment", args=[task.pk, attachment.pk]),
            )
        return result
