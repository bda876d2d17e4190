"""The `file` upload purpose: resumable uploads into a folder (and folder uploads, whose
files carry their relative path)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils.translation import gettext as _

from kreide.files import services
from kreide.files.models import Node, Space
from kreide.files.services import Actor, FileError, Level
from kreide.storage.models import Blob, Upload
from kreide.storage.uploads import UploadPurpose, UploadRefused


def _folder(actor: Actor, metadata: dict[str, str]) -> Node:
    raw = metadata.get("folder", "")
    node = (
        Node.objects.for_school(actor.school_id)
        .select_related("space")
        .filter(pk=int(raw), is_folder=True)
        .first()
        if raw.isdigit() and actor.school_id
        else None
    )
    if node is None or actor.level(node) == Level.NONE:
        raise UploadRefused(_("This folder does not exist (any more)."), status=404)
    if actor.level(node) < Level.WRITE:
        raise UploadRefused(_("You may not add files to this folder."))
    return node


def _directories(metadata: dict[str, str]) -> list[str]:
    """The folders of a file chosen with its folder ("Referat/Bilder/a.png" → 2 folders)."""
    parts = [
        part
        for part in metadata.get("relativePath", "").replace("\\", "/").split("/")
        if part not in ("", ".", "..")
    ]
    return parts[:-1][:20]


def _unfinished_into(space: Space) -> int:
    """Declared bytes of the uploads into `space` (by anyone) that have not arrived yet."""
    unfinished = Upload.objects.for_school(space.school_id).filter(
        purpose=FileUpload.name, completed_at=None
    )
    by_folder: dict[int, int] = {}
    for folder, length in unfinished.values_list("metadata__folder", "length"):
        if str(folder).isdigit():  # SQLite hands the JSON string "12" back as 12
            by_folder[int(folder)] = by_folder.get(int(folder), 0) + length
    inside = Node.objects.for_school(space.school_id).filter(space=space, pk__in=list(by_folder))
    return sum(by_folder[pk] for pk in inside.values_list("pk", flat=True))


class FileUpload(UploadPurpose):
    name = "file"

    def authorize(self, user, metadata: dict[str, str], size: int) -> None:
        """The file's declared size counts against the folder's quota from now on, beside
        every other upload into the same space still under way (the space stays locked
        until the tus server has recorded this upload)."""
        folder = _folder(Actor(user), metadata)
        services.lock_space(folder.space_id)
        try:
            services.check_quota(folder.space, size + _unfinished_into(folder.space))
        except FileError as error:
            raise UploadRefused(error.message, status=413) from error

    def complete(self, user, blob: Blob, filename: str, metadata: dict[str, str]) -> dict[str, Any]:
        actor = Actor(user)
        try:
            parent = services.ensure_folders(
                actor, _folder(actor, metadata), _directories(metadata)
            )
            node = services.add_file(actor, parent, services.clean_name(filename), blob)
        except (FileError, PermissionDenied) as error:
            raise UploadRefused(
                getattr(error, "message", _("You may not add files to this folder."))
            ) from error
        return {
            "id": node.pk,
            "name": node.name,
            "folder": parent.pk,
            "url": reverse("files:view", args=[node.pk]),
        }
