"""What the school decided about keeping data, and the traces of requests from people."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from kreide.core.scoping import SchoolScopedModel


class RetentionRule(SchoolScopedModel):
    """A school's own period for one kind of data; without a row the default applies
    (kreide/privacy/retention.py, docs/privacy.md)."""

    kind = models.CharField(_("kind of data"), max_length=40)
    # Empty: kept until someone deletes it (no automatic deletion).
    days = models.PositiveIntegerField(_("kept for days"), null=True, blank=True)
    changed_at = models.DateTimeField(auto_now=True)

    class Meta(SchoolScopedModel.Meta):
        constraints = [
            models.UniqueConstraint(fields=["school", "kind"], name="retention_rule_unique")
        ]
        verbose_name = _("retention period")
        verbose_name_plural = _("retention periods")

    def __str__(self) -> str:
        return f"{self.kind}: {self.days}"


class RetentionRun(SchoolScopedModel):
    """One pass of the deletion job over a school: how many rows each rule removed."""

    started_at = models.DateTimeField(db_index=True)
    dry_run = models.BooleanField(default=False)
    counts = models.JSONField(default=dict)  # kind -> rows deleted (or, dry, that would be)

    class Meta(SchoolScopedModel.Meta):
        ordering = ["-started_at", "-id"]
        verbose_name = _("retention run")
        verbose_name_plural = _("retention runs")


class Deactivation(models.Model):
    """Since when an account is deactivated: its data's retention period starts there.

    Written when `accounts.user_active_changed` says so; the nightly job also records
    accounts found deactivated without a row (deactivated by a bulk change), from then."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    since = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("deactivation")
        verbose_name_plural = _("deactivations")

    def __str__(self) -> str:
        return f"{self.user_id} since {self.since:%Y-%m-%d}"


class AccessExport(SchoolScopedModel):
    """A request for a copy of everything Kreide holds about one person (Art. 15 GDPR),
    built in the background into DATA_DIR/privacy/ and downloadable for a few days."""

    class State(models.TextChoices):
        WAITING = "waiting", _("waiting")
        RUNNING = "running", _("being prepared")
        READY = "ready", _("ready")
        FAILED = "failed", _("failed")

    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.WAITING)
    created_at = models.DateTimeField(auto_now_add=True)
    # The worker's last sign of life: a running export without one for long was abandoned.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    done = models.PositiveBigIntegerField(default=0)
    total = models.PositiveBigIntegerField(default=0)
    size = models.PositiveBigIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta(SchoolScopedModel.Meta):
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "created_at"])]
        verbose_name = _("copy of personal data")
        verbose_name_plural = _("copies of personal data")

    def __str__(self) -> str:
        return f"export {self.pk} of {self.subject_id} ({self.state})"

    @property
    def percent(self) -> int:
        return min(100, self.done * 100 // self.total) if self.total else 0
