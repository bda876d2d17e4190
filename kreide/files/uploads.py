"""The `file` upload purpose: resumable uploads into a folder (and folder uploads, whose
files carry their relative path)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils.translation import gettext as _

from kreide.files import services
from kreide.files.models import Node
from kreide.files.services import Actor, FileError, Level
from kreide.storage.models import Blob
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


class FileUpload(UploadPurpose):
    name = "file"

    def authorize(self, user, metadata: dict[str, str], size: int) -> None:
        folder = _folder(Actor(user), metadata)
        try:
            services.check_quota(folder.space, size)
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
