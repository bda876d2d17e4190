"""The "news-attachment" upload purpose: a file for news being written or edited.

For news that exists (metadata `news`) the file is attached at once; for news being
written the form carries the upload id and the post attaches it (services.attach_uploads)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils.translation import gettext as _

from kreide.core.ids import parse_id
from kreide.news import services
from kreide.news.models import News
from kreide.storage.models import Blob
from kreide.storage.uploads import UploadPurpose, UploadRefused

MAX_BYTES = 50 * 1024 * 1024


def _news(user, metadata: dict[str, str]) -> News | None:
    if not metadata.get("news"):
        return None
    try:
        pk = parse_id(metadata["news"])
    except ValueError:
        pk = None
    news = News.objects.for_school(user.school_id).filter(pk=pk).first() if pk else None
    if news is None or not services.can_manage(user, news):
        raise UploadRefused(_("Only the author and the school office can add files to news."))
    return news


class NewsAttachmentPurpose(UploadPurpose):
    name = services.UPLOAD_PURPOSE

    def authorize(self, user, metadata: dict[str, str], size: int) -> None:
        if not services.may_post(user):
            raise UploadRefused(_("Only the author and the school office can add files to news."))
        _news(user, metadata)
        if size > MAX_BYTES:
            raise UploadRefused(
                _("The file is too large: at most %(limit)s MB per file.")
                % {"limit": MAX_BYTES // (1024 * 1024)},
                status=413,
            )

    def complete(self, user, blob: Blob, filename: str, metadata: dict[str, str]) -> dict[str, Any]:
        news = _news(user, metadata)
        result = {"upload": metadata["upload_id"], "filename": filename, "size": blob.size}
        if news is not None:
            try:
                attachment = services.add_attachment(user, news, blob, filename)
            except PermissionDenied as refused:
                raise UploadRefused(
                    _("Only the author and the school office can add files to news.")
                ) from refused
            result.update(
                id=attachment.pk, url=reverse("news:attachment", args=[news.pk, attachment.pk])
            )
        return result
