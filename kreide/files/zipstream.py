"""Folders as ZIP, streamed through the shared `kreide.storage.zipstream` writer."""

from __future__ import annotations

from collections.abc import Iterator

from kreide.files.models import Node
from kreide.storage.zipstream import stream_zip


def zip_chunks(folder: Node) -> Iterator[bytes]:
    """The folder's live contents, with paths relative to it; empty folders are kept."""
    nodes = list(
        Node.objects.for_school(folder.school_id)
        .filter(path__startswith=folder.path, deleted_at=None)
        .exclude(pk=folder.pk)
        .select_related("blob")
        .order_by("path")
    )
    names = {node.pk: node.name for node in nodes}
    depth = len(folder.ancestor_ids())

    def members():
        for node in nodes:
            relative = "/".join(names[pk] for pk in node.ancestor_ids()[depth:])
            if node.is_folder:
                yield relative + "/", b"", node.modified_at
            else:
                yield relative, node.blob, node.modified_at

    return stream_zip(members())
