"""Upload purposes: what a finished upload is for, and who may start it.

Each module that accepts files registers one `UploadPurpose` per use in its
`AppConfig.ready()`. The tus server (kreide.storage.tus) asks the purpose named in the
client's `Upload-Metadata` twice: `authorize()` when the upload is created, before any
byte is accepted, and `complete()` once the last byte is stored in the blob store; a
whole file sent with its creation goes through `complete_at_once()` (both, in one
transaction).

Besides the client's metadata keys the server adds two of its own, which a client can
never set: `upload_id` (the tus upload's UUID) and `started_at` (ISO 8601 creation time).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from kreide.core.errors import Refusal
from kreide.storage.models import Blob

# What the tus server's store() gives a purpose: the content and the metadata with the
# server's keys.
Stored = tuple[Blob, dict[str, str]]


class UploadRefused(Refusal):
    """Raised by a purpose to refuse an upload; `message` is shown to the user."""

    code = "upload_refused"

    def __init__(self, message: Any, status: int = 403) -> None:
        super().__init__(str(message), status=status)


class UploadPurpose:
    """Subclass per use (e.g. "task-submission") and register an instance."""

    name: str = ""

    def authorize(self, user, metadata: dict[str, str], size: int) -> None:
        """Raise UploadRefused when the user may not upload this file here."""
        raise UploadRefused("not implemented")

    def complete(self, user, blob: Blob, filename: str, metadata: dict[str, str]) -> dict[str, Any]:
        """Attach the stored blob; return JSON-able information for the client."""
        raise NotImplementedError

    def complete_at_once(
        self, user, metadata: dict[str, str], size: int, store: Callable[[], Stored]
    ) -> dict[str, Any]:
        """A whole file sent with its creation, in one transaction: authorise it, `store()`
        it (the blob, and the metadata with the server's keys), complete it. A purpose
        whose complete() repeats authorize()'s look-ups overrides this to look once."""
        self.authorize(user, metadata, size)
        blob, metadata = store()
        return self.complete(user, blob, metadata["filename"], metadata)


_purposes: dict[str, UploadPurpose] = {}

# Keys the server sets itself; a client's values for them are dropped.
SERVER_KEYS = ("upload_id", "started_at")


def register_purpose(purpose: UploadPurpose) -> None:
    if not purpose.name:
        raise ValueError("an upload purpose needs a name")
    _purposes[purpose.name] = purpose


def file_type_refusal(filename: str) -> str | None:
    """Why a file of this name may not be stored (a blocked type), else None.

    The one check of KREIDE_UPLOAD_BLOCKED_EXTENSIONS: tus uploads, the form upload, WebDAV
    and renaming, moving or copying in the web UI all come through here."""
    extension = filename.rpartition(".")[2].lower() if "." in filename else ""
    if extension not in settings.UPLOAD_BLOCKED_EXTENSIONS:
        return None
    return _("Files of this type (.%(extension)s) are not accepted.") % {"extension": extension}


def get_purpose(name: str) -> UploadPurpose | None:
    return _purposes.get(name)
