from django.db import models
from django.utils.translation import gettext_lazy as _


class Incident(models.Model):
    """A note about a disruption, shown as a banner: the operator's for the whole platform
    (also on /status), or a school admin's for their school only."""

    class Level(models.TextChoices):
        INFO = "info", _("Information")
        WARNING = "warning", _("Disruption")
        ERROR = "error", _("Outage")

    text = models.TextField(_("what is happening"), max_length=1000)
    level = models.CharField(_("level"), max_length=16, choices=Level, default=Level.WARNING)
    started_at = models.DateTimeField(_("started"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    ended_at = models.DateTimeField(_("resolved"), null=True, blank=True, db_index=True)
    school = models.ForeignKey(
        "schools.School",
        verbose_name=_("school"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text=_("Empty: the whole platform."),
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")

    def __str__(self) -> str:
        return self.text[:80]

    @property
    def is_open(self) -> bool:
        return self.ended_at is None
