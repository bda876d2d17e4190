"""One notification for one person: what happened, where to look, and whether it was read;
each person's delivery settings, the school's quiet hours, the browsers a person receives
Web Push in, and the server's VAPID key."""

from __future__ import annotations

from datetime import time

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from kreide.accounts.models import User
from kreide.core.scoping import SchoolScopedModel


class Source(models.TextChoices):
    """The origins a person can quiet (list only) or turn off, one choice each on the
    settings page; every kind of notification names its source.
    (A context of their own: "Messages" and "News" mean other things elsewhere.)"""

    TASKS = "tasks", pgettext_lazy("notification source", "New tasks and feedback")
    DUE_TOMORROW = "due_tomorrow", pgettext_lazy("notification source", "Tasks due tomorrow")
    MESSAGES = "messages", pgettext_lazy("notification source", "Messages")
    SUBSTITUTIONS = "substitutions", pgettext_lazy("notification source", "Timetable changes")
    VIDEO = "video", pgettext_lazy("notification source", "Video lessons starting")
    ABSENCES = "absences", pgettext_lazy("notification source", "Absences")
    NEWS = "news", pgettext_lazy("notification source", "News and parent letters")


class Notification(SchoolScopedModel):
    class Kind(models.TextChoices):
        """What happened, and the source a person quiets or turns it off by (`.source`)."""

        def __new__(cls, value: str, source: Source) -> Notification.Kind:
            kind = str.__new__(cls, value)
            kind._value_, kind.source = value, source
            return kind

        NEW_TASK = "new_task", Source.TASKS, _("new task")
        FEEDBACK = "feedback", Source.TASKS, _("feedback on a submission")
        DUE_TOMORROW = "due_tomorrow", Source.DUE_TOMORROW, _("task due tomorrow")
        MESSAGE = "message", Source.MESSAGES, _("new message")
        SUBSTITUTION = "substitution", Source.SUBSTITUTIONS, _("substitution")
        VIDEO = "video", Source.VIDEO, _("video lesson")
        ABSENCE_REPORTED = "absence_reported", Source.ABSENCES, _("absence reported")
        ABSENCE_ACKNOWLEDGED = "absence_acknowledged", Source.ABSENCES, _("absence acknowledged")
        NEWS = "news", Source.NEWS, _("news")
        LETTER = "letter", Source.NEWS, _("parent letter")
        LETTER_REMINDER = "letter_reminder", Source.NEWS, _("reminder of a parent letter")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    text = models.CharField(_("text"), max_length=300)
    url = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)
    # The delivery queue is this table: the row is written in the transaction that
    # notifies, and the worker (`kreide notifications-work`) sends it live and by push,
    # then stamps it. A crash in between leaves it unstamped, so it is sent again.
    delivered_at = models.DateTimeField(null=True, blank=True)
    # A push held back by quiet hours: sent (as one summary per person) from this moment.
    push_held_until = models.DateTimeField(null=True, blank=True)

    class Meta(SchoolScopedModel.Meta):
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["user", "read_at"]),
            models.Index(
                fields=["id"], condition=Q(delivered_at__isnull=True), name="notification_queue"
            ),
            models.Index(
                fields=["push_held_until"],
                condition=Q(push_held_until__isnull=False),
                name="notification_held",
            ),
        ]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")

    def __str__(self) -> str:
        return self.text


# Stored as bits: append only, never reorder.
BIT = {source: 1 << n for n, source in enumerate(Source)}
# A letter asks parents to confirm it and the school follows up until they do, so parents
# always get it (and its reminder), whatever they chose for news.
ALWAYS_FOR_PARENTS = frozenset({Notification.Kind.LETTER, Notification.Kind.LETTER_REMINDER})
EVERYTHING, LIST_ONLY, OFF = "all", "list", "off"


def always_delivered(kind: str, role: str) -> bool:
    return kind in ALWAYS_FOR_PARENTS and role == User.Role.PARENT


class Preferences(SchoolScopedModel):
    """How one person wants to be told; no row means the defaults."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    live = models.BooleanField(_("in the page, without reloading"), default=True)
    push = models.BooleanField(_("as push notifications on my devices"), default=True)
    digest = models.BooleanField(_("a daily e-mail with what I have not read"), default=False)
    # The newest notification a digest has covered: the next one starts after it.
    digest_upto = models.BigIntegerField(default=0)
    digest_sent_on = models.DateField(null=True, blank=True)
    # Sources (bits of BIT) listed but neither pushed nor mailed, and sources not even listed.
    list_only = models.PositiveIntegerField(default=0)
    off = models.PositiveIntegerField(default=0)

    class Meta(SchoolScopedModel.Meta):
        verbose_name = _("notification settings")
        verbose_name_plural = _("notification settings")

    def __str__(self) -> str:
        return str(self.user)

    def level(self, source: str) -> str:
        if self.off & BIT[source]:
            return OFF
        return LIST_ONLY if self.list_only & BIT[source] else EVERYTHING

    def set_levels(self, levels: dict[str, str]) -> None:
        self.list_only = sum(BIT[s] for s, level in levels.items() if level == LIST_ONLY)
        self.off = sum(BIT[s] for s, level in levels.items() if level == OFF)

    def sends(self, kind: str, role: str) -> bool:
        """Is a notification of this kind pushed and mailed to the person (their role)?"""
        return (
            always_delivered(kind, role) or self.level(Notification.Kind(kind).source) == EVERYTHING
        )

    def quiet_kinds(self, role: str) -> list[str]:
        """The kinds neither pushed nor mailed."""
        return [kind for kind in Notification.Kind if not self.sends(kind, role)]


class QuietHours(SchoolScopedModel):
    """The school's night: no pushes to students in it (they still land in the list and
    are pushed as one summary when it ends). No row means the defaults."""

    starts = models.TimeField(_("quiet from"), default=time(20, 0))
    ends = models.TimeField(_("quiet until"), default=time(7, 0))
    for_students = models.BooleanField(_("for students"), default=True)
    for_everyone = models.BooleanField(
        _("also for teachers, parents and the office"), default=False
    )

    class Meta(SchoolScopedModel.Meta):
        constraints = [models.UniqueConstraint(fields=["school"], name="quiet_hours_per_school")]
        verbose_name = _("quiet hours")
        verbose_name_plural = _("quiet hours")

    def __str__(self) -> str:
        return f"{self.starts:%H:%M}–{self.ends:%H:%M}"


class PushSubscription(SchoolScopedModel):
    """One browser's Web Push subscription (RFC 8030 endpoint and RFC 8291 keys)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_subscriptions"
    )
    endpoint = models.URLField(max_length=1000, unique=True)
    p256dh = models.CharField(max_length=200)
    auth = models.CharField(max_length=64)
    user_agent = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(SchoolScopedModel.Meta):
        verbose_name = _("push subscription")
        verbose_name_plural = _("push subscriptions")

    def __str__(self) -> str:
        return self.endpoint[:60]


class VapidKey(models.Model):
    """The server's VAPID key pair (RFC 8292), made on first use like OIDC signing keys.
    Browsers subscribed with its public key: replacing it ends every subscription."""

    pem = models.TextField()
    public_key = models.CharField(max_length=100)  # uncompressed P-256 point, base64url
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.public_key[:16]
