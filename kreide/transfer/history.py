"""Every export and import of a school leaves an entry in that school's audit log.

Who (the operator's system account: `kreide export`/`import` run on the server, not as a
Kreide user), when, which school, and the archive's name, SHA-256 and size, so an archive
found somewhere can be traced to the export that wrote it. These entries describe the
deployment's dealings with the school, not the school: they stay behind when it is
exported (`registry.leave_behind` in exports.py), so two exports of unchanged data, and
export → import → export, stay byte for byte the same.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import socket
from pathlib import Path
from typing import Any

from django.utils.translation import gettext_lazy as _

from kreide.core import audit

ACTION_PREFIX = "transfer."

audit.declare(
    {"transfer.exported": _("School exported"), "transfer.imported": _("School imported")}
)


def operator() -> str:
    """The system account and host running the command."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # a container's uid without a passwd entry
        user = f"uid {os.getuid()}"
    return f"{user}@{socket.gethostname()}"


class HashingWriter:
    """The file object tarfile writes the archive through: hashes it on the way, so the
    audit entry names the archive's SHA-256 without reading it again."""

    def __init__(self, target: Any) -> None:
        self.target, self.digest, self.size = target, hashlib.sha256(), 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.target.write(data)

    def tell(self) -> int:
        return self.size


def file_digest(path: str | Path) -> tuple[str, int]:
    """SHA-256 and size of an archive on disk."""
    with open(path, "rb") as handle:
        digest = hashlib.file_digest(handle, "sha256")
        return digest.hexdigest(), handle.tell()


def record_export(
    school: Any, out: Path, sha256: str, size: int, rows: int, files: int, using: str
) -> None:
    audit.record(
        school,
        None,
        "transfer.exported",
        school,
        using=using,
        by=operator(),
        archive=out.name,
        sha256=sha256,
        size=size,
        rows=rows,
        files=files,
    )


def record_import(
    school: Any, path: str, sha256: str, size: int, exported: Any, replaced: bool, using: str
) -> None:
    """`exported`: the manifest's note of the export (time, source database), as written by
    whoever wrote the archive: kept short and as text."""
    if not isinstance(exported, dict):
        exported = {}
    audit.record(
        school,
        None,
        "transfer.imported",
        school,
        using=using,
        by=operator(),
        archive=Path(path).name,
        sha256=sha256,
        size=size,
        exported_at=str(exported.get("at", ""))[:40],
        exported_from=str(exported.get("database", ""))[:40],
        replaced=replaced,
    )
