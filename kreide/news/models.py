"""School news for audiences, and parent letters (Elternbriefe) with their receipts."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from kreide.core.scoping import SchoolScopedModel
from kreide.schools.models import Group
from kreide.storage.models import Blob


class News(SchoolScopedModel):
    """One piece of news. Who reads it follows from `audience` (and `groups` for the two
    audiences that name classes or groups); kreide.news.services decides it."""

    class Audience(models.TextChoices):
        SCHOOL = "school", _("the whole school")
        STAFF = "staff", _("staff")
        GROUPS = "groups", _("classes and groups")
        PARENTS = "parents", _("parents of classes and groups")

    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("text"), blank=True, max_length=20000)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("author"),
    )
    audience = models.CharField(
        _("audience"), max_length=16, choices=Audience.choices, default=Audience.SCHOOL
    )
    groups = models.ManyToManyField(
        Group, blank=True, related_name="+", verbose_name=_("classes and groups")
    )
    published_at = models.DateTimeField(_("published"), db_index=True)
    expires_at = models.DateTimeField(_("shown until"), null=True, blank=True)
    pinned = models.BooleanField(_("pinned"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    edited_at = models.DateTimeField(_("edited"), null=True, blank=True)
    # Set once its readers were notified: at posting, or for scheduled news when it is due.
    announced_at = models.DateTimeField(null=True, blank=True)
    # A parent letter asks the parents of each child to confirm it, optionally with a reply.
    needs_confirmation = models.BooleanField(_("parents confirm reading"), default=False)
    reply_choices = models.TextField(_("reply choices"), blank=True, max_length=1000)
    reminded_at = models.DateTimeField(_("parents last reminded"), null=True, blank=True)

    class Meta(SchoolScopedModel.Meta):
        ordering = ["-pinned", "-published_at", "-pk"]
        indexes = [models.Index(fields=["school", "audience", "published_at"])]
        verbose_name = _("news")
        verbose_name_plural = _("school news")

    def __str__(self) -> str:
        return self.title

    @property
    def is_letter(self) -> bool:
        return self.audience == self.Audience.PARENTS and self.needs_confirmation

    @property
    def choices(self) -> list[str]:
        """The reply choices, one per line (none: a plain confirmation)."""
        return [line.strip() for line in self.reply_choices.splitlines() if line.strip()]


class NewsAttachment(SchoolScopedModel):
    news = models.ForeignKey(News, on_delete=models.CASCADE, related_name="attachments")
    blob = models.ForeignKey(Blob, on_delete=models.PROTECT, related_name="+")
    filename = models.CharField(_("file name"), max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(SchoolScopedModel.Meta):
        ordering = ["created_at", "pk"]
        verbose_name = _("news attachment")
        verbose_name_plural = _("news attachments")

    def __str__(self) -> str:
        return self.filename


class Receipt(SchoolScopedModel):
    """A parent confirmed a letter for one child ("zur Kenntnis genommen"), with the reply
    they chose. One per child: with two parents, whoever confirms first counts."""

    news = models.ForeignKey(News, on_delete=models.CASCADE, related_name="receipts")
    child = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("child"),
    )
    parent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("confirmed by"),
    )
    choice = models.CharField(_("reply"), max_length=200, blank=True)
    confirmed_at = models.DateTimeField(_("confirmed"), auto_now_add=True)

    class Meta(SchoolScopedModel.Meta):
        constraints = [models.UniqueConstraint(fields=["news", "child"], name="receipt_unique")]
        verbose_name = _("letter receipt")
        verbose_name_plural = _("letter receipts")

    def __str__(self) -> str:
        return f"{self.news} – {self.child}"
