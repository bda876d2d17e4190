"""Upload purposes: what a finished upload is for, and who may start it.

Each module that accepts files registers one `UploadPurpose` per use in its
`AppConfig.ready()`. The tus server (kreide.storage.tus) asks the purpose named in the
client's `Upload-Metadata` twice: `authorize()` when the upload is created, before any
byte is accepted, and `complete()` once the last byte is stored in the blob store.

Besides the client's metadata keys the server adds two of its own, which a client can
never set: `upload_id` (the tus upload's UUID) and `started_at` (ISO 8601 creation time).
"""

from __future__ import annotations

from typing import Any

from kreide.env import env_list
from kreide.storage.models import Blob

# File types nobody at school needs to upload and that harm when opened by mistake;
# operators set their own list (comma-separated extensions, empty to allow everything).
BLOCKED_EXTENSIONS = frozenset(
    extension.lower().lstrip(".")
    for extension in env_list(
        "KREIDE_UPLOAD_BLOCKED_EXTENSIONS",
        [
            "exe",
            "com",
            "bat",
            "cmd",
            "scr",
            "msi",
            "msp",
            "pif",
            "vbs",
            "vbe",
            "jse",
            "wsf",
            "ps1",
            "lnk",
            "reg",
            "dll",
            "cpl",
            "hta",
            "jar",
            "apk",
        ],
    )
    if extension.strip()
)


class UploadRefused(Exception):
    """Raised by a purpose to refuse an upload; `message` is shown to the user."""

    def __init__(self, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.message = str(message)
        self.status = status


class UploadPurpose:
    """Subclass per use (e.g. "task-submission") and register an instance."""

    name: str = ""

    def authorize(self, user, metadata: dict[str, str], size: int) -> None:
        """Raise UploadRefused when the user may not upload this file here."""
        raise UploadRefused("not implemented")

    def complete(self, user, blob: Blob, filename: str, metadata: dict[str, str]) -> dict[str, Any]:
        """Attach the stored blob; return JSON-able information for the client."""
        raise NotImplementedError


_purposes: dict[str, UploadPurpose] = {}

# Keys the server sets itself; a client's values for them are dropped.
SERVER_KEYS = ("upload_id", "started_at")


def register_purpose(purpose: UploadPurpose) -> None:
    if not purpose.name:
        raise ValueError("an upload purpose needs a name")
    _purposes[purpose.name] = purpose


def blocked_extension(filename: str) -> str | None:
    """The extension if uploads of this file type are refused, else None."""
    extension = filename.rpartition(".")[2].lower() if "." in filename else ""
    return extension if extension in BLOCKED_EXTENSIONS else None


def get_purpose(name: str) -> UploadPurpose | None:
    return _purposes.get(name)
