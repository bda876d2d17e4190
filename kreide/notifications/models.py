"""One notification for one person: what happened, where to look, and whether it was read."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from kreide.core.scoping import SchoolScopedModel


class Notification(SchoolScopedModel):
    class Kind(models.TextChoices):
        NEW_TASK = "new_task", _("new task")
        FEEDBACK = "feedback", _("feedback on a submission")
        ABSENCE_REPORTED = "absence_reported", _("absence reported")
        ABSENCE_ACKNOWLEDGED = "absence_acknowledged", _("absence acknowledged")
        NEWS = "news", _("news")
        LETTER = "letter", _("parent letter")
        LETTER_REMINDER = "letter_reminder", _("reminder of a parent letter")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    text = models.CharField(_("text"), max_length=300)
    url = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)

    class Meta(SchoolScopedModel.Meta):
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["user", "read_at"])]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")

    def __str__(self) -> str:
        return self.text
