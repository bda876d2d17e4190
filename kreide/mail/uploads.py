"""The "mail-attachment" upload purpose: a file for a mail being written in the webmail.

The upload finishes before the mail is sent; the compose form carries the upload ids and
the send reads the files from the blob store (kreide/mail/webmail.py). Unsent uploads go
with `kreide purge-uploads` like every other unfinished business."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from kreide.mail import health
from kreide.storage.uploads import UploadPurpose, UploadRefused


class MailAttachment(UploadPurpose):
    name = "mail-attachment"

    def authorize(self, user, metadata: dict[str, str], size: int) -> None:
        if user.school_id is None or not health.configured():
            raise UploadRefused(_("Mail is not set up here."), status=403)
        if size > settings.MAIL_MESSAGE_MAX_BYTES:
            raise UploadRefused(
                _("A mail may be at most %(size)d MB.")
                % {"size": settings.MAIL_MESSAGE_MAX_BYTES // (1024 * 1024)},
                status=413,
            )

    def complete(self, user, blob, filename: str, metadata: dict[str, str]) -> dict[str, Any]:
        return {"upload": metadata["upload_id"], "filename": filename, "size": blob.size}
