import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kreide.core.scoping import SchoolScopedModel


class Blob(models.Model):
    """File content, stored once by its SHA-256 whatever how many tasks, folders or
    messages refer to it. Not school data by itself: it is reached only through the
    school-scoped objects that point at it."""

    sha256 = models.CharField(max_length=64, unique=True)
    size = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    # Renewed whenever the same content is stored again: the collector
    # (kreide.storage.collector) leaves content alone that was stored lately, so an upload
    # that is just being attached to a task or folder never loses its file.
    stored_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("stored content")
        verbose_name_plural = _("stored contents")

    def __str__(self) -> str:
        return f"{self.sha256[:12]}… ({self.size} B)"


class Upload(SchoolScopedModel):
    """A tus upload in progress (or finished): the bytes so far live in
    STORAGE_DIR/uploads/<id>.part until the last PATCH adopts them into the blob store."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    purpose = models.CharField(max_length=40)
    filename = models.CharField(max_length=255)
    filetype = models.CharField(max_length=255, blank=True)
    metadata = models.JSONField(default=dict)
    length = models.BigIntegerField()
    offset = models.BigIntegerField(default=0)
    # The creation time is when the upload started: a submission begun before the due
    # date and finished after it counts by this time.
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    blob = models.ForeignKey(
        Blob, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True)

    class Meta(SchoolScopedModel.Meta):
        indexes = [models.Index(fields=["user", "purpose", "completed_at"])]
        verbose_name = _("upload")
        verbose_name_plural = _("uploads")

    def __str__(self) -> str:
        return f"{self.filename} ({self.offset}/{self.length})"
