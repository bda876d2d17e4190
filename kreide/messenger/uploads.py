"""The "message-attachment" upload purpose: a file for one message in one room."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _

from kreide.messenger import services
from kreide.messenger.models import Attachment
from kreide.storage.uploads import UploadPurpose, UploadRefused


def _room_id(metadata: dict[str, str]) -> int:
    try:
        return int(metadata.get("room", ""))
    except ValueError as error:
        raise UploadRefused(_("The upload does not name a room."), status=400) from error


class MessageAttachment(UploadPurpose):
    name = "message-attachment"

    def authorize(self, user, metadata: dict[str, str], size: int) -> None:
        try:
            member = services.member_of(user, _room_id(metadata))
            services.check_can_post(member, user)
        except services.MessengerError as error:
            raise UploadRefused(
                str(error.message), status=404 if error.code == "not_found" else 403
            ) from error
        if size > settings.MESSENGER_MAX_ATTACHMENT_BYTES:
            raise UploadRefused(
                _("Attachments may be at most %(size)d MB.")
                % {"size": settings.MESSENGER_MAX_ATTACHMENT_BYTES // (1024 * 1024)},
                status=413,
            )

    def complete(self, user, blob, filename: str, metadata: dict[str, str]) -> dict[str, Any]:
        room_id = _room_id(metadata)
        try:
            services.member_of(user, room_id)
        except services.MessengerError as error:
            raise UploadRefused(str(error.message), status=404) from error
        attachment = Attachment.objects.for_school(user.school_id).create(
            room_id=room_id,
            uploader=user,
            blob=blob,
            filename=filename,
            content_type=metadata.get("filetype", "")[:100],
        )
        return {
            "id": attachment.pk,
            "name": attachment.filename,
            "size": blob.size,
            "url": reverse("messenger:attachment", args=[attachment.pk]),
        }
